"""Every kind of V1 body the sandbox emits validates against finAPI's official OpenAPI schemas."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import pytest
import yaml

from finapi_sandbox import SandboxConfig, SandboxServer

SPEC = Path(__file__).resolve().parents[3] / "shared" / "reference" / "finapi-access-v1.151.1-openapi.yaml"


def _to_json_schema(node: Any) -> Any:
    """OpenAPI 3.0 -> JSON Schema: `nullable` becomes a null alternative, component refs become definitions."""
    if isinstance(node, list):
        return [_to_json_schema(n) for n in node]
    if not isinstance(node, dict):
        return node
    converted = {k: _to_json_schema(v) for k, v in node.items() if k not in ("nullable", "example", "examples")}
    if "$ref" in converted:
        converted["$ref"] = converted["$ref"].replace("#/components/schemas/", "#/definitions/")
    if node.get("nullable"):
        return {"anyOf": [converted, {"type": "null"}]}
    return converted


@lru_cache(maxsize=1)
def _definitions() -> dict[str, Any]:
    if not SPEC.exists():
        if os.environ.get("CI"):
            pytest.fail(f"the official finAPI spec is missing at {SPEC}")
        pytest.skip(f"the official finAPI spec is not beside the repository ({SPEC})")
    spec = yaml.safe_load(SPEC.read_text())
    definitions: dict[str, Any] = _to_json_schema(spec["components"]["schemas"])
    return definitions


def assert_conforms(body: Any, schema_name: str) -> None:
    schema = {"$ref": f"#/definitions/{schema_name}", "definitions": _definitions()}
    errors = sorted(jsonschema.Draft7Validator(schema).iter_errors(body), key=lambda e: list(e.path))
    assert not errors, [f"{list(e.path)}: {e.message}" for e in errors[:5]]


@pytest.fixture(scope="module")
def sandbox() -> Iterator[SandboxServer]:
    config = SandboxConfig.default().model_copy(update={"download_seconds": 0.2, "categorization_seconds": 0.1})
    with SandboxServer(config) as server:
        yield server


def token(sandbox: SandboxServer, username: str = "demo-user", password: str = "demo-password") -> dict[str, Any]:
    answer = httpx.post(
        f"{sandbox.base_url}/oauth/token",
        data={
            "grant_type": "password",
            "client_id": sandbox.client_id,
            "client_secret": sandbox.client_secret,
            "username": username,
            "password": password,
        },
    )
    assert answer.status_code == 200
    body: dict[str, Any] = answer.json()
    return body


def test_access_token_and_auth_errors(sandbox: SandboxServer) -> None:
    assert_conforms(token(sandbox), "AccessToken")
    bad_user = httpx.post(
        f"{sandbox.base_url}/oauth/token",
        data={
            "grant_type": "password",
            "client_id": sandbox.client_id,
            "client_secret": sandbox.client_secret,
            "username": "x",
            "password": "y",
        },
    )
    assert bad_user.status_code == 400
    assert_conforms(bad_user.json(), "ErrorMessage")
    unauthenticated = httpx.get(
        f"{sandbox.base_url}/api/v1/bankConnections/1", headers={"Authorization": "Bearer nope"}
    )
    assert unauthenticated.status_code == 401
    assert_conforms(unauthenticated.json(), "BadCredentialsError")


def test_connections_accounts_challenges_and_errors(sandbox: SandboxServer) -> None:
    headers = {"Authorization": f"Bearer {token(sandbox)['access_token']}", "X-Request-Id": "conformance-1"}
    api = f"{sandbox.base_url}/api/v1"
    sandbox.world.create_user("conformance", "pw")
    connection = sandbox.world.add_connection("conformance", consent_expires_at=None)
    own = {"Authorization": f"Bearer {token(sandbox, 'conformance', 'pw')['access_token']}"}
    psu = {"PSU-IP-Address": "203.0.113.1", "PSU-Device-OS": "iOS", "PSU-User-Agent": "app"}

    def update(body: dict[str, Any]) -> httpx.Response:
        return httpx.post(
            f"{api}/bankConnections/update",
            json={"bankConnectionId": connection, "interface": "XS2A"} | body,
            headers=own | psu,
        )

    missing = update({})
    assert missing.status_code == 422
    assert_conforms(missing.json(), "ErrorMessage")
    choice = update(
        {"loginCredentials": [{"label": "Onlinebanking-ID", "value": "demo"}, {"label": "PIN", "value": "demo"}]}
    )
    assert choice.status_code == 510
    assert_conforms(choice.json(), "ErrorMessage")
    msa = choice.json()["errors"][0]["multiStepAuthentication"]
    tan = update({"multiStepAuthentication": {"hash": msa["hash"], "twoStepProcedureId": "903"}})
    assert tan.status_code == 510 and tan.json()["errors"][0]["multiStepAuthentication"]["opticalData"]
    assert_conforms(tan.json(), "ErrorMessage")
    accepted = update(
        {
            "multiStepAuthentication": {
                "hash": tan.json()["errors"][0]["multiStepAuthentication"]["hash"],
                "challengeResponse": "123456",
            }
        }
    )
    assert accepted.status_code == 200 and accepted.headers["X-Request-Id"].startswith("selfgen-")
    assert_conforms(accepted.json(), "BankConnection")
    locked = update({})
    assert locked.status_code == 423
    assert_conforms(locked.json(), "ErrorMessage")
    time.sleep(0.5)
    ready = httpx.get(f"{api}/bankConnections/{connection}", headers=own)
    assert ready.json()["updateStatus"] == "READY"
    assert_conforms(ready.json(), "BankConnection")
    listed = httpx.get(f"{api}/bankConnections", params={"ids": f"{connection}"}, headers=own)
    assert_conforms(listed.json(), "BankConnectionList")
    account = httpx.get(f"{api}/accounts/{ready.json()['accountIds'][0]}", headers=own)
    assert_conforms(account.json(), "Account")
    foreign = httpx.get(f"{api}/bankConnections/3", headers=headers)
    assert foreign.status_code == 404 and foreign.headers["X-Request-Id"] == "conformance-1"
    assert_conforms(foreign.json(), "ErrorMessage")
    assert foreign.json()["requestId"] == "conformance-1"


def test_v2_uses_banking_interface_and_rfc3339_dates(sandbox: SandboxServer) -> None:
    headers = {"Authorization": f"Bearer {token(sandbox)['access_token']}"}
    body = httpx.get(f"{sandbox.base_url}/api/v2/bankConnections/1", headers=headers).json()
    interface = body["interfaces"][0]
    assert "bankingInterface" in interface and "interface" not in interface
    assert "T" in interface["aisConsent"]["expiresAt"] and "+" in interface["aisConsent"]["expiresAt"]
    assert set(body) == {
        "id",
        "name",
        "updateStatus",
        "categorizationStatus",
        "interfaces",
        "accountIds",
        "owners",
        "bank",
    }
    v2_error = httpx.post(
        f"{sandbox.base_url}/api/v2/bankConnections/update", json={"bankConnectionId": 1}, headers=headers
    )
    assert v2_error.status_code == 422 and "bankingInterface" in v2_error.json()["errors"][0]["message"]


def test_control_endpoints_drive_a_separate_process(sandbox: SandboxServer) -> None:
    base = f"{sandbox.base_url}/sandbox"
    assert httpx.post(f"{base}/users", json={"username": "remote", "password": "pw"}).status_code == 201
    created = httpx.post(f"{base}/connections", json={"username": "remote", "bank_blz": "DEMO0002"})
    assert created.status_code == 201 and created.json()["bank"] == "DEMO0002"
    assert httpx.post(f"{base}/faults", json={"status": 503, "times": 1, "path": "/accounts/"}).status_code == 201
    assert httpx.post(f"{base}/faults", json={"status": 99}).status_code == 400
    assert httpx.delete(f"{base}/faults").json() == {"faults": 0}
    assert isinstance(httpx.get(f"{base}/calls").json(), list)


def test_command_line_serves_on_an_ephemeral_port() -> None:
    root = Path(__file__).resolve().parents[2]
    process = subprocess.Popen(
        [sys.executable, "-m", "finapi_sandbox", "--port", "0"], cwd=root, stdout=subprocess.PIPE, text=True
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        url = line.split(" on ")[1].split(" ")[0]
        answer = httpx.post(
            f"{url}/oauth/token",
            data={
                "grant_type": "client_credentials",
                "client_id": "sandbox-client-id",
                "client_secret": "sandbox-client-secret",
            },
        )
        assert answer.status_code == 200 and "refresh_token" not in answer.json()
    finally:
        process.terminate()
        process.wait(timeout=10)
