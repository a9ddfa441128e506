"""Headers on every answer our HTTP functions give (api.http.resolve): successes, our errors, and refusals of the
request guard alike."""

from __future__ import annotations

from typing import Any

import pytest
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response, content_types

from bankupdate.api.http import build_resolver, resolve
from bankupdate.domain.errors import NotFound


def _app() -> APIGatewayHttpResolver:
    app = build_resolver()

    @app.get("/ok")
    def ok() -> Response[str]:
        return Response(200, content_types.APPLICATION_JSON, "{}")

    @app.get("/missing")
    def missing() -> Response[str]:
        raise NotFound("nothing here")

    @app.post("/echo")
    def echo() -> Response[str]:
        return Response(200, content_types.APPLICATION_JSON, "{}")

    return app


def _event(method: str, path: str, body: str | None = None) -> dict[str, Any]:
    return {
        "version": "2.0",
        "routeKey": f"{method} {path}",
        "rawPath": path,
        "rawQueryString": "",
        "headers": {"content-type": "application/json"},
        "requestContext": {
            "stage": "$default",
            "http": {"method": method, "path": path, "sourceIp": "203.0.113.7", "userAgent": "t"},
        },
        "body": body,
        "isBase64Encoded": False,
    }


@pytest.mark.parametrize(
    ("method", "path", "body", "status"),
    [
        ("GET", "/ok", None, 200),
        ("GET", "/missing", None, 404),
        ("GET", "/no-such-route", None, 404),
        ("POST", "/echo", '{"a": 1, "a": 2}', 400),  # refused by the guard, before the resolver
        ("POST", "/echo", "{", 400),
    ],
)
def test_every_answer_is_uncacheable_and_never_sniffed(method: str, path: str, body: str | None, status: int) -> None:
    # When any request is answered, whatever the outcome
    answer = resolve(_app(), _event(method, path, body), None)
    # Then a browser may neither keep it nor read it as anything but the JSON it says it is
    headers = {k.lower(): v for k, v in answer["headers"].items()}
    assert answer["statusCode"] == status
    assert headers["cache-control"] == "no-store" and headers["x-content-type-options"] == "nosniff"
