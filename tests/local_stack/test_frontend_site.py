"""The local stack's front-end site (local only): the pages of frontend/ at /, a demo sign-in whose token the JWT
authorizer stand-in accepts, and nothing else: no file outside frontend/, no API route shadowed."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from local_stack.frontend import FrontEnd, LocalSite
from local_stack.http_api import HttpApi
from tests.conftest import ROOT

AUTHORIZER = {"type": "jwt", "jwtConfiguration": {"issuer": "https://issuer.test", "audience": ["app"]}}


def _never(*_: Any) -> Any:
    raise AssertionError("no API route may be reached in these tests")


@pytest.fixture
def api() -> HttpApi:
    body = {"components": {"securitySchemes": {"UserJwt": {"x-amazon-apigateway-authorizer": AUTHORIZER}}}}
    served = HttpApi(body, "test", _never, _never)
    served.site = LocalSite(FrontEnd(ROOT / "frontend", "demo-sub"), served.issue_token)
    return served


def _get(api: HttpApi, path: str, method: str = "GET") -> tuple[int, dict[str, str], bytes]:
    return api.handle(method, path, {}, b"", "127.0.0.1", "127.0.0.1")


def test_the_front_end_is_served_at_the_root_and_may_talk_only_to_its_own_origin(api: HttpApi) -> None:
    status, headers, body = _get(api, "/")
    assert status == 200 and headers["content-type"].startswith("text/html")
    assert body == (ROOT / "frontend" / "index.html").read_bytes()
    assert "connect-src 'self'" in headers["content-security-policy"]
    assert headers["referrer-policy"] == "no-referrer" and headers["cache-control"] == "no-store"
    status, headers, _ = _get(api, "/app.js")
    assert status == 200 and headers["content-type"].startswith("text/javascript")


def test_the_demo_sign_in_issues_a_token_the_authorizer_accepts(api: HttpApi) -> None:
    status, headers, body = _get(api, "/_local/token", "POST")
    assert status == 200 and headers["cache-control"] == "no-store"
    token = json.loads(body)["token"]
    claims = api.authorizers.verify_jwt("UserJwt", f"Bearer {token}")
    assert claims is not None and claims["sub"] == "demo-sub"
    assert _get(api, "/_local/token")[0] == 405


@pytest.mark.parametrize("path", ["/../template.yaml", "/../frontend/../pyproject.toml", "/missing.html", "/v1/x"])
def test_nothing_outside_the_front_end_is_served(api: HttpApi, path: str) -> None:
    status, _, body = _get(api, path)
    assert (status, body) == (404, b'{"message":"Not Found"}')


def _documented_headers() -> dict[str, str]:
    """The headers docs/operations.md ("Hosting the front end") tells operators to serve the front end with."""
    text = (ROOT / "docs" / "operations.md").read_text()
    block = re.search(r"## Hosting the front end.*?```http\n(.*?)```", text, re.DOTALL)
    assert block is not None, "docs/operations.md has no header block under 'Hosting the front end'"
    lines = [line.split(": ", 1) for line in block.group(1).strip().splitlines()]
    return {name.lower(): value for name, value in lines}


def test_the_local_site_serves_exactly_the_headers_the_operations_guide_documents(api: HttpApi) -> None:
    # Given the documented headers, for a front end served on the API's own origin
    documented = _documented_headers()
    documented["content-security-policy"] = documented["content-security-policy"].replace(" <ApiOrigin>", "")
    # Then the local site serves each page with exactly those
    for page in ("/", "/callback.html", "/app.js", "/style.css"):
        _, headers, _ = _get(api, page)
        assert {k: v for k, v in headers.items() if k != "content-type"} == documented, page


@pytest.mark.parametrize("page", ["index.html", "callback.html"])
def test_every_page_carries_its_own_policy(page: str) -> None:
    # Given a page of the front end, wherever it is served from (a host may add no header at all)
    html = (ROOT / "frontend" / page).read_text()
    found = re.search(r'<meta http-equiv="Content-Security-Policy" content="([^"]+)">', html)
    assert found is not None, f"{page} has no Content-Security-Policy of its own"
    directives = dict(d.strip().split(" ", 1) for d in found.group(1).split(";"))
    # Then it allows scripts and styles of its own origin only, never inline ones, and no plugins or base changes
    assert directives["default-src"] == "'none'" and directives["script-src"] == "'self'"
    assert directives["style-src"] == "'self'" and directives["object-src"] == "'none'"
    assert directives["base-uri"] == "'none'" and "unsafe" not in found.group(1)
    assert '<meta name="referrer" content="no-referrer">' in html
    # And the policy is the same on every page
    assert found.group(1) in (ROOT / "frontend" / "index.html").read_text()


def test_a_front_end_on_an_origin_of_its_own_names_the_api_in_its_config_and_its_policy() -> None:
    # Given the front end served apart from the API (as an operator hosts it), the API on another origin
    api_origin = "http://127.0.0.1:4000"
    site = LocalSite(FrontEnd(ROOT / "frontend", "demo-sub", port=0), lambda sub: "token", api_origin=api_origin)
    # Then its config.js names the API (the shipped one names none: the page's own origin)
    found = site.answer("GET", "/config.js")
    assert found is not None and found[2] == b'export const API_URL = "http://127.0.0.1:4000";\n'
    assert 'export const API_URL = "";' in (ROOT / "frontend" / "config.js").read_text()
    # And every file comes with the documented headers, the policy letting the page connect to that API
    documented = _documented_headers()
    documented["content-security-policy"] = documented["content-security-policy"].replace("<ApiOrigin>", api_origin)
    for page in ("/", "/callback.html", "/config.js"):
        answered = site.answer("GET", page)
        assert answered is not None
        assert {k: v for k, v in answered[1].items() if k != "content-type"} == documented, page
