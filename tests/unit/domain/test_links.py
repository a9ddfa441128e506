"""Which URLs finAPI hands us may reach the user as links (domain.urls.LinkPolicy): https only; http to a loopback
host only when finAPI itself is the local stack's sandbox on loopback."""

from __future__ import annotations

import pytest

from bankupdate.domain.urls import LinkPolicy

DEPLOYED = LinkPolicy.for_upstream("https://sandbox.finapi.io")
LOCAL = LinkPolicy.for_upstream("http://127.0.0.1:8480")

HOSTILE = [
    "javascript:alert(document.domain)",
    "JavaScript:alert(1)",
    " javascript:alert(1)",
    "java\tscript:alert(1)",
    "javascript://bank.example/%0aalert(1)",
    "data:text/html,<script>alert(1)</script>",
    "vbscript:msgbox(1)",
    "file:///etc/passwd",
    "//evil.example/authorize",
    "/relative/path",
    "http://evil.example/authorize",
    "https://user:pw@evil.example/authorize",
    "https://bank.example\\@evil.example/",
    "https://bank.example/\x00",
    "",
]


@pytest.mark.parametrize("url", HOSTILE)
def test_nothing_but_https_becomes_a_link(url: str) -> None:
    assert DEPLOYED.link(url) is None and LOCAL.link(url) is None


@pytest.mark.parametrize(
    "url",
    ["https://bank.example/authorize?state=s&redirect=https%3A%2F%2Fapp.example.com%2Fback", "HTTPS://Bank.Example/"],
)
def test_an_https_url_is_passed_on_as_it_came(url: str) -> None:
    assert DEPLOYED.link(url) == url and LOCAL.link(url) == url


def test_http_to_loopback_is_a_link_only_when_finapi_itself_is_the_local_sandbox() -> None:
    # Given the local stack's sandbox, which serves its bank page and web form on plain http on loopback
    page = "http://127.0.0.1:8481/wf/946db09e-5bfc-11eb-ae93-0242ac130002"
    assert LOCAL.link(page) == page and LOCAL.link("http://localhost:8480/x") == "http://localhost:8480/x"
    # Then a deployed finAPI (https) never gets an http link through, not even to loopback
    assert DEPLOYED.link(page) is None
    # And a finAPI reached over http elsewhere is no local sandbox either
    assert LinkPolicy.for_upstream("http://finapi.internal.example").link(page) is None
    assert LOCAL.link(None) is None
