"""The conformance checker itself: it must catch what breaks finAPI's spec, or the conformance suite proves nothing."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from finapi_sandbox import SandboxConfig, SandboxServer, render
from finapi_sandbox.conformance import DOCUMENTED_DEVIATIONS, ConformanceLog, request_problems
from finapi_sandbox.openapi import ACCESS_SPEC, Problem, access_spec

ROOT = Path(__file__).resolve().parents[2]
JSON = {"content-type": "application/json", "x-request-id": "r-1"}


def error_body(**details: Any) -> dict[str, Any]:
    error = {"message": "m", "code": "LOCKED", "type": "TECHNICAL", "multiStepAuthentication": None} | details
    return {"errors": [error], "date": "d", "requestId": "r", "endpoint": "e", "authContext": "1/1", "bank": None}


def answer(status: int, body: Any, headers: dict[str, str] = JSON) -> list[str]:
    data = b"" if body is None else json.dumps(body).encode()
    return [str(p) for p in access_spec().check_answer("POST", "/api/v1/bankConnections/update", status, headers, data)]


def test_the_official_spec_is_in_the_repository_unchanged() -> None:
    # Given the file the whole suite checks against, When it is read from the repository
    digest = hashlib.sha256(ACCESS_SPEC.read_bytes()).hexdigest()
    # Then it is finAPI's file byte for byte, in the repository (a fresh clone needs nothing from outside)
    assert ACCESS_SPEC.is_relative_to(ROOT)
    assert digest == "b3425b080de8666fb810f51b327976ec6aa95d60b6d7fa612114afdd09b7a488"
    assert access_spec().title == "finAPI Access (with deprecation) 1.151.1"


def test_an_answer_is_strict_about_fields_the_spec_does_not_have() -> None:
    assert answer(423, error_body()) == []
    assert answer(423, error_body(hint="x")) == ["body errors[0].hint: not in the spec"]


def test_nullable_fields_take_null_or_their_own_type_only() -> None:
    assert answer(423, error_body(message=None)) == []
    assert answer(423, error_body(message=7)) == ["body errors[0].message: must be of type string"]
    incomplete = answer(423, error_body(multiStepAuthentication={"hash": "h"}))
    assert "body errors[0].multiStepAuthentication.status: required but missing" in incomplete


def test_an_undeclared_status_a_missing_header_and_a_missing_field_are_problems() -> None:
    assert answer(503, error_body()) == ["status 503: not declared for POST /api/v1/bankConnections/update"]
    assert answer(451, error_body()) == ["header Location: declared for this answer but missing"]
    body = error_body()
    del body["authContext"]
    assert answer(423, body) == ["body authContext: required but missing"]
    assert answer(401, {"error": "invalid_token", "errorDescription": "spelt as in the spec's example"}) == [
        "body error_description: required but missing",
        "body errorDescription: not in the spec",
    ]


def test_a_request_problem_names_field_and_rule_never_the_value() -> None:
    body = json.dumps({"bankConnectionId": "7", "loginCredentials": [{"label": "PIN", "value": 4711}]}).encode()
    problems = request_problems("POST", "/api/v1/bankConnections/update", {}, JSON, body)
    assert [str(p) for p in problems] == [
        "body bankConnectionId: must be of type integer",
        "body loginCredentials[0].value: must be of type string",
    ]
    assert "4711" not in str(problems)


def test_query_path_and_header_parameters_are_typed_as_the_spec_types_them() -> None:
    spec = access_spec()
    assert spec.check_request("GET", "/api/v1/bankConnections", {"ids": ["1,2", "3"]}, {}, b"") == []
    assert [str(p) for p in spec.check_request("GET", "/api/v1/bankConnections", {"ids": ["1,x"]}, {}, b"")] == [
        "query ids[1]: must be of type integer"
    ]
    assert [str(p) for p in spec.check_request("GET", "/api/v1/accounts/x", {"foo": ["1"]}, {}, b"")] == [
        "query foo: not in the spec",
        "path id: must be of type integer",
    ]
    assert [str(p) for p in spec.check_request("GET", "/api/v1/nothing", {}, {}, b"")] == [
        "operation GET /api/v1/nothing: the spec has no such operation"
    ]


def test_each_documented_deviation_is_explained_in_the_docs() -> None:
    lines = (ROOT / "docs" / "finapi-fidelity.md").read_text().splitlines()
    headings = {line.lstrip("#").strip() for line in lines if line.startswith("#")}
    for heading in DOCUMENTED_DEVIATIONS.values():
        assert heading in headings, heading


def test_an_ipv6_psu_address_breaks_the_v1_file_and_is_let_through_as_documented() -> None:
    # Given an update from a user on an IPv6 network
    headers = JSON | {"psu-ip-address": "2001:db8::1"}
    body = b'{"bankConnectionId": 1}'
    # When it is checked, Then the V1 file alone refuses it (`format: ipv4`) ...
    raw = access_spec().check_request("POST", "/api/v1/bankConnections/update", {}, headers, body)
    assert raw == [Problem("header", "PSU-IP-Address", "format", "must be a valid ipv4")]
    assert ("header", "PSU-IP-Address", "format") in DOCUMENTED_DEVIATIONS
    # ... and the conformance check lets it through, because finAPI documents that it replaces such an address
    assert request_problems("POST", "/api/v1/bankConnections/update", {}, headers, body) == []


def test_the_log_tells_refused_from_accepted_requests() -> None:
    log = ConformanceLog()
    problem = [Problem("body", "pin", "unknown field", "not in the spec")]
    log.record("POST", "/api/v1/bankConnections/update", 400, problem, [])
    log.record("POST", "/api/v1/bankConnections/update", 510, problem, [])
    log.record("GET", "/api/v1/bankConnections/1", 200, [], [])
    refused, accepted = log.take()
    assert (refused.accepted, accepted.accepted) == (False, True)
    assert log.checked == 3 and log.take() == []


def test_the_running_sandbox_logs_an_answer_that_breaks_the_spec(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a sandbox whose connection bodies grow a field finAPI does not have
    original = render.bank_connection
    monkeypatch.setattr(render, "bank_connection", lambda c, v: original(c, v) | {"nickname": "x"})
    config = SandboxConfig.default().model_copy(update={"check_conformance": True})
    with SandboxServer(config) as sandbox:
        token = httpx.post(
            f"{sandbox.base_url}/oauth/token",
            data={
                "grant_type": "password",
                "client_id": sandbox.client_id,
                "client_secret": sandbox.client_secret,
                "username": "demo-user",
                "password": "demo-password",
            },
        ).json()["access_token"]
        # When a connection is read
        read = httpx.get(f"{sandbox.base_url}/api/v1/bankConnections/1", headers={"Authorization": f"Bearer {token}"})
        assert read.status_code == 200
        # Then the conformance log has it, as an answer that broke the spec
        assert sandbox.conformance is not None
        findings = sandbox.conformance.take()
    assert [(f.kind, f.operation, f.problems) for f in findings] == [
        ("answer", "GET /api/v1/bankConnections/1", ("body nickname: not in the spec",))
    ]
