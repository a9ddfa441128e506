"""The template's CORS, as CloudFormation deploys it: AllowedOrigins empty is no CORS at all; origins given make the
HTTP API answer their browsers' preflights itself (no OPTIONS route, so no authorizer) with the headers the API reads
and gives."""

from __future__ import annotations

import re
from typing import Any

import pytest
from samtranslator.yaml_helper import yaml_parse

from local_stack.template import Resolver, translate
from tests.template.translated import ROOT

BASE = {"JwtIssuer": "https://issuer.example", "JwtAudience": "app"}


def _api_body(**parameters: str) -> dict[str, Any]:
    """The HTTP API's body with the stack's parameters, conditions and references resolved."""
    values = BASE | parameters
    template, _ = translate(ROOT / "template.yaml", values)
    api = next(r for r in template["Resources"].values() if r["Type"] == "AWS::ApiGatewayV2::Api")
    resolver = Resolver(template, values, "stack")
    body: dict[str, Any] = api["Properties"]["Body"]
    resolved = {key: resolver.resolve(value) for key, value in body.items() if key != "paths"}
    # AWS::NoValue removes the key (the local resolver writes it as None)
    return {key: value for key, value in resolved.items() if value is not None} | {"paths": body["paths"]}


def test_without_allowed_origins_the_api_has_no_cors() -> None:
    assert "x-amazon-apigateway-cors" not in _api_body()


def test_allowed_origins_become_the_apis_cors_configuration() -> None:
    # Given two front ends on other origins
    cors = _api_body(AllowedOrigins="https://app.example.com,https://admin.example.com")["x-amazon-apigateway-cors"]
    # Then exactly they may call, with the methods the routes have and the headers the API reads and gives
    assert cors["allowOrigins"] == ["https://app.example.com", "https://admin.example.com"]
    assert cors["allowMethods"] == ["GET", "POST", "PUT"]
    assert set(cors["allowHeaders"]) == {
        "authorization",
        "content-type",
        "idempotency-key",
        "psu-ip-address",
        "psu-user-agent",
        "psu-device-os",
    }
    assert cors["exposeHeaders"] == ["location", "retry-after"] and "allowCredentials" not in cors


def test_no_route_takes_options_so_api_gateway_answers_every_preflight_itself() -> None:
    paths = _api_body(AllowedOrigins="https://app.example.com")["paths"]
    methods = {method for operations in paths.values() for method in operations}
    assert methods <= {"get", "post", "put"}, methods


@pytest.mark.parametrize(
    ("value", "allowed"),
    [
        ("", True),
        ("https://app.example.com", True),
        ("https://app.example.com,https://admin.example.com:8443", True),
        ("https://app.example.com/", False),  # an origin has no path
        ("https://app.example.com, https://admin.example.com", False),  # a space would be part of the origin
        ("*", False),
        ("app.example.com", False),
    ],
)
def test_the_parameter_takes_origins_only(value: str, allowed: bool) -> None:
    pattern = yaml_parse((ROOT / "template.yaml").read_text())["Parameters"]["AllowedOrigins"]["AllowedPattern"]
    assert (re.fullmatch(pattern, value) is not None) is allowed
