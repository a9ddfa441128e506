"""Every kind of V1 answer the sandbox gives, flow by flow, checked against finAPI's official spec.

The checking itself is not in these tests: the sandbox runs with its conformance log on, and the autouse fixture
`finapi_conformance` (tests/conftest.py) fails a test after which the log holds an exchange that broke the spec. These
tests make sure that every flow, and every answer in it, really happens; each asserts the statuses it expects.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx

from finapi_sandbox import SandboxServer
from tests.sandbox.conftest import DEMO, NO_SCA, PSU, Finapi, Owner, challenge, first_error


def step(finapi: Finapi, who: Owner, msa: dict[str, Any], **callback: Any) -> httpx.Response:
    body = {"bankConnectionId": who.connection, "interface": "XS2A"}
    return finapi.update(who.token, body | {"multiStepAuthentication": {"hash": msa["hash"]} | callback}, headers=PSU)


def test_token_endpoint_answers(finapi: Finapi) -> None:
    password = finapi.token_answer(grant_type="password", username="demo-user", password="demo-password")
    assert password.status_code == 200 and password.json()["refresh_token"]
    refreshed = finapi.token_answer(grant_type="refresh_token", refresh_token=password.json()["refresh_token"])
    assert refreshed.status_code == 200
    client = finapi.token_answer(grant_type="client_credentials")
    assert client.status_code == 200 and "refresh_token" not in client.json()
    bad_user = finapi.token_answer(grant_type="password", username="demo-user", password="wrong")
    bad_refresh = finapi.token_answer(grant_type="refresh_token", refresh_token="nope")
    assert (bad_user.status_code, bad_refresh.status_code) == (400, 400)
    bad_client = httpx.post(
        f"{finapi.base}/oauth/token", data={"grant_type": "client_credentials", "client_id": "x", "client_secret": "y"}
    )
    assert bad_client.status_code == 401


def test_read_answers(finapi: Finapi, owner: Callable[..., Owner], sandbox: SandboxServer) -> None:
    who = owner(imported_account_count=3)
    ids = sandbox.world.connection(who.connection)["accountIds"]
    statuses = [
        finapi.get(f"/api/v1/bankConnections/{who.connection}", who.token).status_code,
        finapi.get("/api/v1/bankConnections", who.token).status_code,
        finapi.get("/api/v1/bankConnections", who.token, params={"ids": f"{who.connection},999999"}).status_code,
        finapi.get(f"/api/v1/accounts/{ids[0]}", who.token).status_code,
        finapi.get("/api/v1/accounts", who.token, params={"bankConnectionIds": str(who.connection)}).status_code,
        finapi.get("/api/v1/bankConnections/3", who.token).status_code,  # another user's
        finapi.get("/api/v1/accounts/999999", who.token).status_code,
        finapi.get("/api/v1/bankConnections/1", "not-a-token").status_code,
        finapi.get("/api/v1/bankConnections/1", finapi.client_token()).status_code,
        finapi.get("/api/v1/bankConnections", who.token, params={"ids": ",".join(["1"] * 1001)}).status_code,
    ]
    assert statuses == [200, 200, 200, 200, 200, 404, 404, 401, 403, 400]


def test_embedded_sca_with_every_challenge_kind(
    finapi: Finapi, owner: Callable[..., Owner], sandbox: SandboxServer
) -> None:
    for procedure, kind in (("901", "challengeMessage"), ("903", "opticalData"), ("904", "photoTanData")):
        who = owner(consent_expires_at=None, download_seconds=60)  # still downloading when the 423 is asked for
        start = {"bankConnectionId": who.connection, "interface": "XS2A", "loginCredentials": DEMO}
        choice = challenge(finapi.update(who.token, start, headers=PSU))
        assert choice["status"] == "TWO_STEP_PROCEDURE_REQUIRED" and choice["twoStepProcedures"]
        tan = challenge(step(finapi, who, choice, twoStepProcedureId=procedure))
        assert tan["status"] == "CHALLENGE_RESPONSE_REQUIRED" and tan[kind]
        wrong = challenge(step(finapi, who, tan, challengeResponse="000000"))
        accepted = step(finapi, who, wrong, challengeResponse="123456")
        assert accepted.status_code == 200 and accepted.json()["updateStatus"] == "IN_PROGRESS"
        locked = finapi.update(who.token, {"bankConnectionId": who.connection, "interface": "XS2A"}, headers=PSU)
        assert locked.status_code == 423


def test_decoupled_sca(finapi: Finapi, owner: Callable[..., Owner]) -> None:
    who = owner(consent_expires_at=None)
    start = {"bankConnectionId": who.connection, "interface": "XS2A", "loginCredentials": DEMO}
    msa = step(finapi, who, challenge(finapi.update(who.token, start, headers=PSU)), twoStepProcedureId="905")
    statuses = []
    while msa.status_code == 510:
        statuses.append(challenge(msa)["status"])
        msa = step(finapi, who, challenge(msa), decoupledCallback=True)
    assert msa.status_code == 200
    assert statuses == ["DECOUPLED_AUTH_REQUIRED", "DECOUPLED_AUTH_IN_PROGRESS", "DECOUPLED_AUTH_IN_PROGRESS"]


def test_redirect_sca_done_and_cancelled(finapi: Finapi, owner: Callable[..., Owner]) -> None:
    for done in (True, False):
        who = owner(bank_blz="DEMO0002", consent_expires_at=None)
        body = {"bankConnectionId": who.connection, "interface": "XS2A"}
        assert finapi.update(who.token, body, headers=PSU).status_code == 422  # redirectUrl missing
        msa = challenge(finapi.update(who.token, body | {"redirectUrl": "https://app.example/cb"}, headers=PSU))
        assert msa["status"] == "REDIRECT_REQUIRED" and msa["redirectContextField"] == "state"
        bank = httpx.get(msa["redirectUrl"], follow_redirects=False)
        query = httpx.URL(bank.headers["location"]).query.decode() if done else "error=access_denied"
        callback = {"hash": msa["hash"], "redirectCallback": query}
        answer = finapi.update(
            who.token,
            body | {"redirectUrl": "https://app.example/cb", "multiStepAuthentication": callback},
            headers=PSU,
        )
        assert answer.status_code == (200 if done else 422)


def test_business_errors_of_an_update(finapi: Finapi, owner: Callable[..., Owner], sandbox: SandboxServer) -> None:
    who = owner(consent_expires_at=None)
    body: dict[str, Any] = {"bankConnectionId": who.connection, "interface": "XS2A"}
    missing = finapi.update(who.token, body, headers=PSU)
    no_challenge = finapi.update(who.token, body | {"challengeResponse": "123456"}, headers=PSU)
    wrong_pin = finapi.update(
        who.token, body | {"loginCredentials": [{"label": "PIN", "value": "nope"}]}, headers={"X-Request-Id": "r-1"}
    )
    wrong_label = finapi.update(who.token, body | {"loginCredentials": [{"label": "TAN", "value": "1"}]}, headers=PSU)
    foreign = finapi.update(who.token, {"bankConnectionId": 3, "interface": "XS2A"}, headers=PSU)
    codes = [first_error(a)["code"] for a in (missing, no_challenge, wrong_pin, wrong_label, foreign)]
    assert codes == [
        "MISSING_FIELD",
        "NO_EXISTING_CHALLENGE",
        "BANK_SERVER_REJECTION",
        "ILLEGAL_FIELD_VALUE",
        "UNKNOWN_ENTITY",
    ]
    assert wrong_pin.json()["requestId"] == wrong_pin.headers["X-Request-Id"] == "r-1"

    other = owner(consent_expires_at=None)
    start = {"bankConnectionId": other.connection, "interface": "XS2A", "loginCredentials": DEMO}
    msa = challenge(finapi.update(other.token, start, headers=PSU))
    unknown_procedure = step(finapi, other, msa, twoStepProcedureId="999")
    stale = step(finapi, other, msa | {"hash": "0" * 32}, twoStepProcedureId="901")
    assert [first_error(a)["code"] for a in (unknown_procedure, stale)] == [
        "INVALID_TWO_STEP_PROCEDURE",
        "ILLEGAL_FIELD_VALUE",
    ]


def test_unattended_limits_and_expired_consent(
    finapi: Finapi, owner: Callable[..., Owner], sandbox: SandboxServer
) -> None:
    who = owner(download_seconds=0)
    body = {"bankConnectionId": who.connection, "interface": "XS2A"}
    statuses = [finapi.update(who.token, body).status_code for _ in range(5)]
    assert statuses == [200, 200, 200, 200, 422]
    expired = owner(consent_expires_at=sandbox.world.now() - timedelta(days=1))
    answer = finapi.update(expired.token, {"bankConnectionId": expired.connection, "interface": "XS2A"})
    assert first_error(answer)["code"] == "INVALID_CONSENT"


def test_legacy_web_form_and_injected_faults(
    finapi: Finapi, owner: Callable[..., Owner], sandbox: SandboxServer
) -> None:
    who = owner(consent_expires_at=None, legacy_web_form=True)
    body = {"bankConnectionId": who.connection, "interface": "XS2A", "loginCredentials": NO_SCA}
    web_form = finapi.update(who.token, body, headers=PSU)
    assert web_form.status_code == 451 and web_form.headers["Location"]
    sandbox.world.add_fault(path="/update", connection_id=who.connection, status=500, times=1)
    sandbox.world.add_fault(path="/update", connection_id=who.connection, lock=True, times=1)
    injected = [finapi.update(who.token, body, headers=PSU).status_code for _ in range(2)]
    assert injected == [500, 423]


def test_operations_the_sandbox_does_not_model_answer_a_documented_500(finapi: Finapi) -> None:
    token = finapi.user_token("demo-user", "demo-password")
    deleted = httpx.delete(f"{finapi.base}/api/v1/bankConnections/1", headers={"Authorization": f"Bearer {token}"})
    answers = [finapi.get("/api/v1/banks", token), deleted]
    assert [a.status_code for a in answers] == [500, 500]
    assert first_error(answers[0])["code"] == "UNEXPECTED_ERROR"


def test_v2_uses_banking_interface_and_rfc3339_dates(finapi: Finapi) -> None:
    """Not checkable against a spec (there is no V2 file here): the V2 differences finAPI documents, by hand."""
    token = finapi.user_token("demo-user", "demo-password")
    body = finapi.get("/api/v2/bankConnections/1", token).json()
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
    v2_error = finapi.update(token, {"bankConnectionId": 1}, version="v2")
    assert v2_error.status_code == 422 and "bankingInterface" in first_error(v2_error)["message"]


def test_control_endpoints_drive_a_separate_process(sandbox: SandboxServer) -> None:
    base = f"{sandbox.base_url}/sandbox"
    assert httpx.post(f"{base}/users", json={"username": "remote", "password": "pw"}).status_code == 201
    created = httpx.post(f"{base}/connections", json={"username": "remote", "bank_blz": "DEMO0002"})
    assert created.status_code == 201 and created.json()["bank"] == "DEMO0002"
    assert httpx.post(f"{base}/faults", json={"status": 500, "times": 1, "path": "/accounts/"}).status_code == 201
    assert httpx.post(f"{base}/faults", json={"status": 503}).status_code == 400  # finAPI never answers 503
    assert httpx.delete(f"{base}/faults").json() == {"faults": 0}
    assert isinstance(httpx.get(f"{base}/calls").json(), list)
    conformance = httpx.get(f"{base}/conformance").json()
    assert conformance["checked"] > 0 and conformance["findings"] == []


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
