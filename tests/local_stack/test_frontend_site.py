"""The local stack's front-end site (local only): the pages of frontend/ at /, a demo sign-in whose token the JWT
authorizer stand-in accepts, and nothing else: no file outside frontend/, no API route shadowed."""

from __future__ import annotations

import json
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
    claims = api._verify_jwt("UserJwt", f"Bearer {token}")
    assert claims is not None and claims["sub"] == "demo-sub"
    assert _get(api, "/_local/token")[0] == 405


@pytest.mark.parametrize("path", ["/../template.yaml", "/../frontend/../pyproject.toml", "/missing.html", "/v1/x"])
def test_nothing_outside_the_front_end_is_served(api: HttpApi, path: str) -> None:
    status, _, body = _get(api, path)
    assert (status, body) == (404, b'{"message":"Not Found"}')
