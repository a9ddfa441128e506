"""A client generated from docs/openapi.json at test time (openapi-python-client) drives a whole update against the
local stack: the document is a contract a front end can build on, sign-in included."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from types import ModuleType
from typing import Any

import pytest

from scripts.openapi import DOCUMENT
from tests.conftest import BankUser

PACKAGE = "bank_update_client"


@pytest.fixture(scope="module")
def client_package(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ModuleType]:
    folder = tmp_path_factory.mktemp("generated")
    config = folder / "config.yaml"
    config.write_text(f"package_name_override: {PACKAGE}\npost_hooks: []\n")  # no formatter needed to run it
    command = [sys.executable, "-m", "openapi_python_client", "generate", "--path", str(DOCUMENT)]
    command += ["--output-path", str(folder / PACKAGE), "--meta", "none", "--config", str(config)]
    generated = subprocess.run(
        command,
        capture_output=True,
        text=True,
        check=False,
    )
    assert generated.returncode == 0, generated.stdout + generated.stderr
    assert "Warning" not in generated.stdout + generated.stderr, generated.stdout + generated.stderr
    sys.path.insert(0, str(folder))
    try:
        yield importlib.import_module(PACKAGE)
    finally:
        sys.path.remove(str(folder))
        for name in [m for m in sys.modules if m == PACKAGE or m.startswith(f"{PACKAGE}.")]:
            del sys.modules[name]


def _module(name: str) -> Any:
    return importlib.import_module(f"{PACKAGE}.{name}")


def _answer(client: Any, update_id: str, body: Any) -> Any:
    return _module("api.updates.answer_challenge").sync_detailed(update_id, client=client, body=body)


def test_a_generated_client_drives_a_whole_update(client_package: ModuleType, new_user: Any, stack: Any) -> None:
    models = _module("models")
    start_update = _module("api.updates.start_update")
    read_update = _module("api.updates.read_update")
    user: BankUser = new_user()
    connection = user.connections["DEMO0001"]

    # Given a client built from the document's security scheme for user routes (HTTP bearer, a JWT)
    scheme = json.loads(DOCUMENT.read_text())["components"]["securitySchemes"]["userJwt"]
    assert (scheme["type"], scheme["scheme"], scheme["bearerFormat"]) == ("http", "bearer", "JWT")
    client = client_package.AuthenticatedClient(
        base_url=stack.api_url, token=stack.issue_token(sub=user.sub), prefix=scheme["scheme"].capitalize()
    )
    credentials = [
        models.LoginCredentialIn(label="Onlinebanking-ID", value="demo"),
        models.LoginCredentialIn(label="PIN", value="demo"),
    ]

    # When it starts an update with the user's login
    started = start_update.sync_detailed(
        connection,
        client=client,
        body=models.TriggerUpdateRequest(interface=models.BankingInterface.XS2A, login_credentials=credentials),
        idempotency_key="generated-client-1",
    )

    # Then the answer is the documented 202: the update, where it lives, and not to be cached
    assert started.status_code == 202, started.content
    update = started.parsed
    assert isinstance(update, models.UpdateView)
    assert started.headers["location"] == f"/v1/updates/{update.update_id}"
    assert started.headers["cache-control"] == "no-store"
    assert update.authentication.status == models.ChallengeStatus.TWO_STEP_PROCEDURE_REQUIRED
    assert update.authentication.answer_field == "twoStepProcedureId"

    # When it picks the procedure the bank offered and sends a wrong TAN
    procedure = update.authentication.two_step_procedures[0].procedure_id
    chosen = _answer(client, update.update_id, models.AuthenticationAnswerRequest(two_step_procedure_id=procedure))
    assert chosen.status_code == 200, chosen.content
    assert chosen.parsed.authentication.answer_field == "challengeResponse"
    wrong = _answer(client, update.update_id, models.AuthenticationAnswerRequest(challenge_response="000000"))

    # Then the answer says, machine-readably, that the TAN was refused and how many rounds are left
    assert wrong.status_code == 200, wrong.content
    assert wrong.parsed.authentication.previous_answer_rejected is True
    assert wrong.parsed.authentication.rounds_left < chosen.parsed.authentication.rounds_left

    # When the right TAN follows, and it reads the update until it ends
    right = _answer(client, update.update_id, models.AuthenticationAnswerRequest(challenge_response="123456"))
    assert right.status_code == 200, right.content
    deadline = time.monotonic() + 30
    read = read_update.sync_detailed(update.update_id, client=client)
    while read.parsed.status not in (models.UpdateStatus.SUCCEEDED, models.UpdateStatus.FAILED):
        assert time.monotonic() < deadline, read.content
        time.sleep(0.1)
        read = read_update.sync_detailed(update.update_id, client=client)

    # Then it ends SUCCEEDED with the connection's accounts, all as typed models
    assert read.parsed.status == models.UpdateStatus.SUCCEEDED, read.content
    assert [isinstance(a, models.AccountView) for a in read.parsed.result.accounts] == [True, True]


def test_the_generated_client_reads_every_documented_refusal(
    client_package: ModuleType, new_user: Any, stack: Any
) -> None:
    models = _module("models")
    start_update = _module("api.updates.start_update")
    user: BankUser = new_user()
    connection = user.connections["DEMO0001"]
    client = client_package.AuthenticatedClient(base_url=stack.api_url, token=stack.issue_token(sub=user.sub))
    body = models.TriggerUpdateRequest()
    # Given an update waiting for the user
    first = start_update.sync_detailed(
        connection,
        client=client,
        body=models.TriggerUpdateRequest(
            interface=models.BankingInterface.XS2A,
            login_credentials=[
                models.LoginCredentialIn(label="Onlinebanking-ID", value="demo"),
                models.LoginCredentialIn(label="PIN", value="demo"),
            ],
        ),
    )
    assert first.status_code == 202, first.content

    # When a second one is started, then the 409 names the running update and says when to try again
    second = start_update.sync_detailed(connection, client=client, body=body)
    assert second.status_code == 409, second.content
    assert isinstance(second.parsed, models.ErrorResponse)
    assert second.parsed.error.code == "UPDATE_ALREADY_RUNNING"
    assert second.parsed.error.details["updateId"] == first.parsed.update_id
    assert int(second.headers["retry-after"]) == second.parsed.error.details["retryAfterSeconds"]

    # When the token is missing, then API Gateway's own 401 body is what the document says it is
    anonymous = client_package.Client(base_url=stack.api_url)
    refused = start_update.sync_detailed(connection, client=anonymous, body=body)
    assert refused.status_code == 401
    assert isinstance(refused.parsed, models.GatewayError) and refused.parsed.message == "Unauthorized"

    # When the body does not validate, then the 422 is our error shape naming the field
    invalid = start_update.sync_detailed(
        connection, client=client, body=models.TriggerUpdateRequest(redirect_url="ftp://nowhere")
    )
    assert invalid.status_code == 422
    assert isinstance(invalid.parsed, models.ErrorResponse)
    assert invalid.parsed.error.code == "INVALID_REQUEST"
    assert invalid.parsed.error.details["problems"][0]["field"] == "redirectUrl"
