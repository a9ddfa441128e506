"""CORS on the local HTTP API, as API Gateway's HTTP APIs do it: with a CORS configuration the API answers a
preflight itself, before any authorizer or route (there is no OPTIONS route), and adds the configured headers to the
integration's answers for an allowed origin; without one a preflight is an ordinary request, which meets the route
table (and its authorizer) like any other."""

from __future__ import annotations

from typing import Any

import pytest

from local_stack.http_api import HttpApi

AUTHORIZER = {"type": "jwt", "jwtConfiguration": {"issuer": "https://issuer.test", "audience": ["app"]}}
FUNCTION = "arn:aws:lambda:eu-central-1:123456789012:function:local-Query"
APP = "https://app.example.com"
CORS = {
    "allowOrigins": [APP, "http://127.0.0.1:3001"],
    "allowMethods": ["GET", "POST", "PUT"],
    "allowHeaders": ["authorization", "content-type", "idempotency-key"],
    "exposeHeaders": ["location", "retry-after"],
    "maxAge": 600,
}
PREFLIGHT = {
    "origin": APP,
    "access-control-request-method": "POST",
    "access-control-request-headers": "authorization,content-type",
}


def _operation(security: str) -> dict[str, Any]:
    return {
        "x-amazon-apigateway-integration": {"uri": f"{FUNCTION}/invocations"},
        "security": [{security: []}],
    }


def _body(*, cors: dict[str, Any] | None, method: str = "get") -> dict[str, Any]:
    body: dict[str, Any] = {
        "paths": {"/v1/bank-connections": {method: _operation("UserJwt")}},
        "components": {"securitySchemes": {"UserJwt": {"x-amazon-apigateway-authorizer": AUTHORIZER}}},
    }
    if cors is not None:
        body["x-amazon-apigateway-cors"] = cors
    return body


class Backend:
    """The function behind the route: records what reached it, answers with a CORS header of its own."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []

    def invoke(self, arn: str, event: dict[str, Any], timeout: float) -> Any:
        self.events.append(event)
        headers = {"content-type": "application/json", "access-control-allow-origin": "*"}
        return {"statusCode": 200, "headers": headers, "body": "{}"}


def _api(body: dict[str, Any]) -> tuple[HttpApi, Backend]:
    backend = Backend()
    return HttpApi(body, "test", backend.invoke, lambda *_: True), backend


def _call(api: HttpApi, method: str, headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
    return api.handle(method, "/v1/bank-connections", headers, b"", "127.0.0.1", "127.0.0.1")


def test_a_preflight_is_answered_by_the_api_itself_before_the_authorizer() -> None:
    # Given an API with CORS for the app's origin, and a JWT authorizer on its only route
    api, backend = _api(_body(cors=CORS))
    # When the browser asks whether the app may POST with a token (a preflight carries no token)
    status, headers, body = _call(api, "OPTIONS", PREFLIGHT)
    # Then the API answers it itself: the configured CORS headers, no authorizer, no function
    assert (status, body) == (204, b"")
    assert headers["access-control-allow-origin"] == APP
    assert headers["access-control-allow-methods"] == "GET,POST,PUT"
    assert headers["access-control-allow-headers"] == "authorization,content-type,idempotency-key"
    assert headers["access-control-max-age"] == "600"
    assert backend.events == []


def test_a_preflight_from_another_origin_gets_no_permission() -> None:
    api, backend = _api(_body(cors=CORS))
    status, headers, _ = _call(api, "OPTIONS", PREFLIGHT | {"origin": "https://evil.example"})
    assert status == 204 and not any(name.startswith("access-control-") for name in headers)
    assert backend.events == []


def test_an_allowed_origins_request_gets_the_configured_headers_not_the_functions() -> None:
    # Given a signed-in request from the app's origin
    api, backend = _api(_body(cors=CORS))
    token = api.issue_token("user-1")
    status, headers, _ = _call(api, "GET", {"origin": APP, "authorization": f"Bearer {token}"})
    # Then the function answered, with API Gateway's CORS headers in place of the function's own
    assert status == 200 and len(backend.events) == 1
    assert headers["access-control-allow-origin"] == APP
    assert headers["access-control-expose-headers"] == "location,retry-after"
    # And a request from an origin not configured gets the answer without any CORS header (the browser hides it)
    _, foreign, _ = _call(api, "GET", {"origin": "https://evil.example", "authorization": f"Bearer {token}"})
    assert not any(name.startswith("access-control-") for name in foreign)


@pytest.mark.parametrize("headers", [{}, {"origin": APP}, {"access-control-request-method": "GET"}])
def test_an_options_request_that_is_no_preflight_meets_the_routes(headers: dict[str, str]) -> None:
    # Given CORS, and an OPTIONS request without Origin and Access-Control-Request-Method
    api, backend = _api(_body(cors=CORS))
    # Then it is an ordinary request: no OPTIONS route, so API Gateway's 404
    assert _call(api, "OPTIONS", headers)[0] == 404 and backend.events == []


def test_without_cors_a_preflight_meets_the_routes_like_any_request() -> None:
    # Given an API without a CORS configuration (AllowedOrigins empty)
    api, backend = _api(_body(cors=None))
    # When a browser on another origin sends its preflight
    status, headers, _ = _call(api, "OPTIONS", PREFLIGHT)
    # Then nothing answers it for CORS: there is no OPTIONS route (API Gateway's 404), and no CORS header
    assert status == 404 and not any(name.startswith("access-control-") for name in headers)
    assert backend.events == []


@pytest.mark.parametrize("cors", [None, CORS])
def test_a_route_that_takes_every_method_takes_the_preflight_to_its_authorizer(cors: dict[str, Any] | None) -> None:
    # Given a route of method ANY behind the JWT authorizer (as API Gateway's $default route catches OPTIONS too)
    api, backend = _api(_body(cors=cors, method="x-amazon-apigateway-any-method"))
    # Then the preflight meets the authorizer, which refuses it: no token
    status, _, _ = _call(api, "OPTIONS", PREFLIGHT)
    assert status == 401 and backend.events == []
