"""docs/openapi.json is a contract a front end can build on: valid OpenAPI 3.1, every schema it names defined and
every property it requires declared, security as API Gateway enforces it, and the headers our answers carry."""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate
from pydantic import ValidationError

from bankupdate.api.models import TriggerUpdateRequest
from bankupdate.domain.errors import BankUpdateError
from scripts.openapi import DOCUMENT
from tests.template.translated import translated_template

# How the template's authorizer names map onto the document's security schemes.
TEMPLATE_AUTH: dict[str, list[dict[str, list[str]]]] = {
    "UserJwt": [{"userJwt": []}],
    "AWS_IAM": [{"operatorSigV4": []}],
    "NONE": [],
}


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(DOCUMENT.read_text())
    return loaded


def _operations(document: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            yield method, path, operation


def _schemas_in(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        if "properties" in node or "required" in node:
            yield node
        for value in node.values():
            yield from _schemas_in(value)
    elif isinstance(node, list):
        for value in node:
            yield from _schemas_in(value)


def test_the_document_is_valid_openapi_3_1(document: dict[str, Any]) -> None:
    assert document["openapi"].startswith("3.1.")
    validate(document)  # raises with the first violation


def test_every_required_property_is_declared(document: dict[str, Any]) -> None:
    # Given every object schema in the document (components and inline)
    undeclared = [
        (schema.get("title"), sorted(set(schema.get("required", [])) - set(schema.get("properties", {}))))
        for schema in _schemas_in(document["components"]["schemas"])
        if schema.get("type") == "object" or "properties" in schema
    ]
    # Then none requires a property it does not define (Powertools' ValidationError required an undefined `msg`)
    assert [u for u in undeclared if u[1]] == []


def test_every_reference_resolves_and_every_component_is_used(document: dict[str, Any]) -> None:
    text = json.dumps(document)
    referenced = set(re.findall(r'"#/components/(\w+)/(\w+)"', text))
    defined = {
        (kind, name) for kind, items in document["components"].items() for name in items if kind != "securitySchemes"
    }
    assert referenced - defined == set(), "dangling references"
    assert defined - referenced == set(), "components nothing refers to"


def test_security_of_every_route_is_what_api_gateway_enforces(document: dict[str, Any]) -> None:
    # Given the routes and authorizers of the template as CloudFormation gets it
    template = translated_template()
    body = next(r for r in template["Resources"].values() if r["Type"] == "AWS::ApiGatewayV2::Api")["Properties"][
        "Body"
    ]
    enforced = {
        (method, path): TEMPLATE_AUTH[next(iter(operation["security"][0]))]
        for path, operations in body["paths"].items()
        for method, operation in operations.items()
    }
    # Then the document names exactly those routes, each with the matching scheme
    documented = {(method, path): operation["security"] for method, path, operation in _operations(document)}
    assert documented == enforced
    schemes = document["components"]["securitySchemes"]
    assert schemes["userJwt"] == schemes["userJwt"] | {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
    assert schemes["operatorSigV4"]["x-amazon-apigateway-authtype"] == "awsSigv4"


def test_refusals_by_api_gateway_have_its_own_shape(document: dict[str, Any]) -> None:
    for method, path, operation in _operations(document):
        responses = operation["responses"]
        if operation["security"] == [{"userJwt": []}]:
            assert responses["401"]["content"]["application/json"]["schema"] == {
                "$ref": "#/components/schemas/Unauthorized"
            }, (method, path)
        if operation["security"] == [{"operatorSigV4": []}]:
            schema = responses["403"]["content"]["application/json"]["schema"]
            assert schema == {"$ref": "#/components/schemas/GatewayError"}, (method, path)
            assert "401" not in responses, (method, path)
    unauthorized = document["components"]["schemas"]["Unauthorized"]["anyOf"]
    assert {"$ref": "#/components/schemas/GatewayError"} in unauthorized
    assert {"$ref": "#/components/schemas/ErrorResponse"} in unauthorized


def test_our_errors_are_one_shape_and_422_is_ours(document: dict[str, Any]) -> None:
    for method, path, operation in _operations(document):
        for status in ("400", "404", "409", "422", "429", "500"):
            response = operation["responses"][status]
            assert response["content"]["application/json"]["schema"] == {
                "$ref": "#/components/schemas/ErrorResponse"
            }, (method, path, status)
            assert "Cache-Control" in response["headers"], (method, path, status)
        for status in ("409", "429"):
            assert operation["responses"][status]["headers"]["Retry-After"] == {
                "$ref": "#/components/headers/RetryAfter"
            }
    assert "HTTPValidationError" not in document["components"]["schemas"]


def test_success_answers_say_no_store_and_a_started_update_says_where_it_is(document: dict[str, Any]) -> None:
    for method, path, operation in _operations(document):
        success = next(code for code in operation["responses"] if code.startswith("2"))
        assert operation["responses"][success]["headers"]["Cache-Control"] == {"$ref": "#/components/headers/NoStore"}
        for status, response in operation["responses"].items():
            if "Cache-Control" in response.get("headers", {}):  # ours (API Gateway's own refusals carry none)
                assert response["headers"]["X-Content-Type-Options"] == {"$ref": "#/components/headers/NoSniff"}, (
                    method,
                    path,
                    status,
                )
        if success == "204":
            assert "content" not in operation["responses"][success], (method, path)
    started = document["paths"]["/v1/bank-connections/{connectionId}/updates"]["post"]["responses"]["202"]
    assert started["headers"]["Location"] == {"$ref": "#/components/headers/UpdateLocation"}
    assert document["components"]["headers"]["UpdateLocation"]["required"] is True


def test_the_answer_fields_a_screen_needs_are_described(document: dict[str, Any]) -> None:
    view = document["components"]["schemas"]["AuthenticationView"]["properties"]
    for field in ("previousAnswerRejected", "roundsLeft", "credentialLabels", "webFormUrl", "expiresAt", "redirectUrl"):
        assert view[field].get("description"), field
    # roundsLeft counts this update's rounds, never the bank's attempts (a bank ends a login at its own count)
    rounds = view["roundsLeft"]["description"]
    assert "authentication rounds" in rounds and "not the number of attempts" in rounds
    assert "roundsLeft` how many more rounds the update" not in document["info"]["description"]
    callback = document["components"]["schemas"]["AuthenticationAnswerRequest"]["properties"]["redirectCallback"]
    assert "full URL" in callback["description"] and "query string" in callback["description"]


def _error_codes() -> set[str]:
    found: set[str] = set()
    pending: list[type[BankUpdateError]] = [BankUpdateError]
    while pending:
        error = pending.pop()
        found.add(error.code)
        pending.extend(error.__subclasses__())
    return found


def test_every_error_code_of_the_catalogue_is_documented(document: dict[str, Any]) -> None:
    # Given every code our errors can carry
    codes = _error_codes()
    # Then the document names each in some answer, and the front-end guide says what to do about it
    described = " ".join(r["description"] for _, _, o in _operations(document) for r in o["responses"].values())
    guide = (DOCUMENT.parent / "api.md").read_text()
    assert sorted(c for c in codes if c not in described) == []
    assert sorted(c for c in codes if f"`{c}`" not in guide) == []


def _validator(document: dict[str, Any], schema: dict[str, Any]) -> Draft202012Validator:
    """A validator of ``schema`` whose references resolve in the document, as a generated client reads them."""
    return Draft202012Validator(schema | {"components": document["components"]})


CREDENTIALS = [{"label": "PIN", "value": "4711"}]


@pytest.mark.parametrize(
    ("interface", "credentials"),
    list(itertools.product([None, "absent", "XS2A"], [None, "absent", CREDENTIALS])),
)
def test_a_trigger_body_the_document_admits_is_one_the_service_takes(
    document: dict[str, Any], interface: Any, credentials: Any
) -> None:
    # Given every combination of interface and loginCredentials: absent, null, or given
    body = {
        key: value for key, value in (("interface", interface), ("loginCredentials", credentials)) if value != "absent"
    }
    # When both the document's schema and the service's model judge it
    admitted = _validator(document, {"$ref": "#/components/schemas/TriggerUpdateRequest"}).is_valid(body)
    try:
        TriggerUpdateRequest.model_validate(body)
        taken = True
    except ValidationError:
        taken = False
    # Then they agree: credentials without an interface are refused by both (a generated client cannot send them)
    assert admitted == taken, body


def test_connection_ids_are_bounded_by_integers_the_service_takes(document: dict[str, Any]) -> None:
    # Given the connectionId parameter of every route that has one
    schemas = [
        parameter["schema"]
        for _, _, operation in _operations(document)
        for parameter in operation.get("parameters", [])
        if parameter["name"] == "connectionId"
    ]
    routes = [path for _, path, _ in _operations(document) if "{connectionId}" in path]
    assert len(schemas) == len(routes) >= 3
    for schema in schemas:
        # Then its bounds are written as integers (a float 9.223372036854776e+18 is 2**63, one more than int64 holds)
        bounds = {k: v for k, v in schema.items() if "imum" in k}
        assert bounds and all(type(v) is int for v in bounds.values()), bounds
        # And the document admits exactly the ids the handlers take: 1 .. 2**63 - 1
        check = _validator(document, schema)
        assert check.is_valid(1) and check.is_valid(2**63 - 1)
        assert not check.is_valid(0) and not check.is_valid(2**63)
