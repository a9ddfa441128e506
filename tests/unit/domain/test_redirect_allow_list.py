"""The operator's allow-list of return addresses (domain.urls): a URL is allowed when a browser would take the user to
one of the entries' origins, at or below the entry's path, whatever tricks the URL's spelling plays."""

from __future__ import annotations

import re

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from bankupdate.domain.urls import RedirectAllowList
from bankupdate.settings import Settings

ORIGIN_ONLY = RedirectAllowList.parse("https://allowed.example.com")
WITH_PATH = RedirectAllowList.parse("https://allowed.example.com/bank-return")
PROPERTY = settings(max_examples=400, deadline=None, suppress_health_check=list(HealthCheck))


@pytest.mark.parametrize(
    "url",
    [
        # the string-prefix attacks of issue 20, item 11
        "https://allowed.example.com.evil.com/cb",
        "https://allowed.example.com@evil.com/cb",
        "https://allowed.example.com:443@evil.com/cb",
        "https://allowed.example.com:pw@evil.com/cb",
        "https://allowed.example.com\uff0eevil.com/cb",
        "https://allowed.example.com\u3002evil.com/cb",
        "https://allowed.example.com\uff61evil.com/cb",
        "https://allowed.example.comevil.com/cb",
        "https://allowed.example.com-evil.com/cb",
        # what browsers read otherwise than a naive parser
        "https://allowed.example.com\\@evil.com/cb",
        "https://evil.com\\@allowed.example.com/cb",
        "https://evil.com\\.allowed.example.com/cb",
        "https://allowed.example.com%2eevil.com/cb",
        "https://allowed.example.com\t.evil.com/cb",
        "https://allowed.example.com\n.evil.com/cb",
        " https://evil.com/ https://allowed.example.com/",
        "https://user@allowed.example.com/cb",
        "https://@allowed.example.com/cb",
        "https:allowed.example.com/cb",
        "https:/allowed.example.com/cb",
        "https:///allowed.example.com/cb",
        "//allowed.example.com/cb",
        "allowed.example.com/cb",
        # another scheme, port or host
        "http://allowed.example.com/cb",
        "javascript://allowed.example.com/%0aalert(1)",
        "ftp://allowed.example.com/cb",
        "https://allowed.example.com:8443/cb",
        "https://allowed.example.com:99999/cb",
        "https://allowed.example.com:x/cb",
        "https://example.com/cb",
        "https://evil.allowed.example.com/cb",
        "https://[::1]/cb",
        "https://allowed.example.com./cb",  # the root's dot: another origin to a browser
        # labels IDNA would change beyond their case: the IDNA versions and browsers disagree on some, none is taken
        "https://fa\u00df.example.com/cb",
        "https://\uff41llowed.example.com/cb",
        "https://allowed.example.com\u00ad/cb",
        "https://allowed.exa\u200dmple.com/cb",
    ],
)
def test_urls_that_lead_elsewhere_are_refused(url: str) -> None:
    assert not ORIGIN_ONLY.allows(url)


@pytest.mark.parametrize(
    "url",
    [
        "https://allowed.example.com",
        "https://allowed.example.com/",
        "https://allowed.example.com/any/page?state=1&code=2",
        "https://allowed.example.com:443/cb",
        "HTTPS://ALLOWED.Example.COM/cb",
        "https://allowed\uff0eexample\uff0ecom/cb",  # full-width dots are dots: the same host to a browser
        "https://allowed\u3002example\uff61com/cb",
        "https://allowed.example.com/a/../cb",
    ],
)
def test_urls_at_the_allowed_origin_are_allowed(url: str) -> None:
    assert ORIGIN_ONLY.allows(url)


@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        ("https://allowed.example.com/bank-return", True),
        ("https://allowed.example.com/bank-return/", True),
        ("https://allowed.example.com/bank-return/step?code=1", True),
        ("https://allowed.example.com/x/../bank-return", True),
        ("https://allowed.example.com/bank-returned", False),
        ("https://allowed.example.com/bank-return-evil", False),
        ("https://allowed.example.com/bank-return/../admin", False),
        ("https://allowed.example.com/bank-return/%2e%2e/admin", False),
        ("https://allowed.example.com/bank-return/.%2E/admin", False),
        ("https://allowed.example.com/bank-return/..", False),
        ("https://allowed.example.com/bank-return%2f..%2fadmin", False),
        ("https://allowed.example.com/bank-return\\..\\admin", False),
        ("https://allowed.example.com/Bank-Return", False),
        ("https://allowed.example.com/", False),
    ],
)
def test_an_entry_with_a_path_allows_that_path_and_below_by_segments(url: str, allowed: bool) -> None:
    assert WITH_PATH.allows(url) is allowed


def test_an_entry_with_a_trailing_slash_is_the_same_as_without() -> None:
    slashed = RedirectAllowList.parse("https://allowed.example.com/bank-return/")
    assert slashed.allows("https://allowed.example.com/bank-return")
    assert not slashed.allows("https://allowed.example.com/bank-returned")


def test_http_is_for_loopback_entries_only() -> None:
    local = RedirectAllowList.parse("http://127.0.0.1:3000/, http://localhost:3000/, http://[::1]:3000/")
    assert local.allows("http://127.0.0.1:3000/callback.html?code=1")
    assert local.allows("http://localhost:3000/callback.html") and local.allows("http://[0:0::1]:3000/")
    assert not local.allows("https://127.0.0.1:3000/callback.html")  # the scheme is the entry's, exactly
    assert not local.allows("http://127.0.0.1:3001/") and not local.allows("http://127.1:3000/")
    with pytest.raises(ValueError, match="https"):
        RedirectAllowList.parse("http://app.example.com/")


@pytest.mark.parametrize(
    "entry",
    ["app.example.com", "https://user@app.example.com", "https://app.example.com/?x=1", "https://app.example.com/#x"],
)
def test_an_entry_that_is_not_an_origin_or_a_path_is_refused_when_read(entry: str) -> None:
    with pytest.raises(ValueError, match="AllowedRedirectUrls"):
        RedirectAllowList.parse(f"https://fine.example.com/,{entry}")


def test_an_empty_list_allows_nothing() -> None:
    assert not RedirectAllowList.parse("").allows("https://allowed.example.com/")
    assert RedirectAllowList.parse(" , ").entries == ()


# ----------------------------------------------------------------------------------------------- properties

SEGMENT = st.text(alphabet="abcxyz019-_~.", min_size=0, max_size=8)
HOST_PIECES = st.sampled_from(
    [
        "allowed.example.com",
        "ALLOWED.EXAMPLE.COM",
        "allowed\uff0eexample\uff0ecom",
        "allowed.example.com.",
        "evil.com",
        ".evil.com",
        "allowed.example.com.evil.com",
        "\uff0eevil.com",
        "example.com",
        "evil",
        "-",
        "",
    ]
)
SPELLINGS = st.builds(
    lambda scheme, userinfo, host, suffix, port, segments, query: (
        f"{scheme}://{userinfo}{host}{suffix}{port}/{'/'.join(segments)}{query}"
    ),
    scheme=st.sampled_from(["https", "HTTPS", "http"]),
    userinfo=st.sampled_from(["", "", "", "user@", "allowed.example.com@", "allowed.example.com:443@"]),
    host=HOST_PIECES,
    suffix=st.sampled_from(["", "", "", ".evil.com", "\uff0eevil.com", "@evil.com", ":443@evil.com", "evil.com"]),
    port=st.sampled_from(["", "", ":443", ":8443", ":"]),
    segments=st.lists(st.one_of(SEGMENT, st.sampled_from(["..", ".", "%2e%2e", "bank-return"])), max_size=5),
    query=st.sampled_from(["", "?state=1&code=2"]),
)


@PROPERTY
@given(SPELLINGS)
def test_an_allowed_url_leads_to_the_allowed_origin_as_another_url_parser_reads_it(url: str) -> None:
    # Given any spelling mixed from the allowed host, foreign hosts, userinfo, ports and paths
    # When the allow-list lets it through
    if not ORIGIN_ONLY.allows(url):
        return
    # Then an independent parser (httpx's, IDNA 2008) reads the same scheme, host and port, and no userinfo
    read = httpx.URL(url)
    assert (read.scheme, read.host, read.port or 443, read.userinfo) == ("https", "allowed.example.com", 443, b"")


@PROPERTY
@given(st.lists(SEGMENT.filter(lambda s: s not in ("", ".", "..")), max_size=6), st.booleans())
def test_every_path_below_an_entry_is_allowed_and_stays_so_with_the_banks_query(
    segments: list[str], slash: bool
) -> None:
    url = "https://allowed.example.com/bank-return/" + "/".join(segments) + ("/" if slash else "")
    assert WITH_PATH.allows(url)
    assert WITH_PATH.allows(url + "?state=s&code=c") and WITH_PATH.allows(
        url.upper().replace("BANK-RETURN", "bank-return")
    )


@PROPERTY
@given(SEGMENT.filter(lambda s: s not in ("", ".", "..", "bank-return")), st.lists(SEGMENT, max_size=4))
def test_no_path_beside_an_entry_is_allowed(sibling: str, rest: list[str]) -> None:
    url = "https://allowed.example.com/" + "/".join([sibling, *rest])
    assert not WITH_PATH.allows(url)
    assert not WITH_PATH.allows("https://allowed.example.com/bank-return/../" + "/".join([sibling, *rest]))


@PROPERTY
@given(st.text(max_size=40))
def test_nothing_typed_after_the_allowed_host_without_a_slash_leaves_the_origin(tail: str) -> None:
    # Given anything at all written right after the allowed host (where a string prefix stops looking)
    url = f"https://allowed.example.com{tail}"
    # Then, when it is allowed, it still leads to that origin as httpx reads it
    if ORIGIN_ONLY.allows(url):
        read = httpx.URL(url)
        assert (read.host, read.port or 443, read.userinfo) == ("allowed.example.com", 443, b"")


def test_a_deployment_with_an_entry_that_is_not_one_does_not_start() -> None:
    # Given the template's environment with an http entry on a public host
    environment = {
        "TABLE_NAME": "t",
        "EVENT_BUS_NAME": "b",
        "STATE_MACHINE_ARN": "arn:aws:states:eu-central-1:123456789012:stateMachine:m",
        "FINAPI_BASE_URL": "https://sandbox.finapi.io",
    }
    # Then the settings refuse it at cold start, naming the entry, instead of at a user's tap
    with pytest.raises(ValidationError, match=re.escape("http://app.example.com/")):
        Settings.model_validate(
            environment | {"ALLOWED_REDIRECT_URLS": "https://ok.example.com,http://app.example.com/"}
        )
    allowed = Settings.model_validate(environment | {"ALLOWED_REDIRECT_URLS": "https://app.example.com"})
    assert allowed.redirect_allow_list.allows("https://app.example.com/back")
