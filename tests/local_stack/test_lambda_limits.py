"""Lambda's limits in the local stack: timeouts abandon the invocation, payload quotas hold, and a killed trigger
does not block its Idempotency-Key (issue 11, item 4)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from local_stack.lambdas import (
    MAX_REQUEST_BYTES,
    FunctionRuntime,
    FunctionTimedOut,
    LocalFunction,
    RequestTooLarge,
    ResponseTooLarge,
)
from tests.conftest import BankUser, running_stack

HANDLER = """
import time

def lambda_handler(event, context):
    time.sleep(event.get("sleep", 0))
    return "x" * event.get("size", 0)
"""


@pytest.fixture
def runtime(tmp_path: Path) -> FunctionRuntime:
    (tmp_path / "app.py").write_text(HANDLER)
    runtime = FunctionRuntime(echo_logs=False, time_scale=0.01)
    runtime.add(LocalFunction("Fn", "fn", "app.lambda_handler", tmp_path, {}, timeout=30, memory=128))
    return runtime


def test_an_invocation_past_its_timeout_gets_lambdas_timeout_error(runtime: FunctionRuntime) -> None:
    # Given a function with a 30 s timeout (0.3 s at this scale) that needs longer
    with pytest.raises(FunctionTimedOut) as timed_out:
        runtime.invoke(runtime.functions["fn"], {"sleep": 2})
    # Then the caller sees Lambda's error type for a timeout (what Step Functions' Retry/Catch match on)
    assert timed_out.value.error_type == "Sandbox.Timedout"
    assert "Task timed out after 30.00 seconds" in str(timed_out.value)


def test_payloads_above_six_megabytes_are_refused(runtime: FunctionRuntime) -> None:
    with pytest.raises(ResponseTooLarge):
        runtime.invoke(runtime.functions["fn"], {"size": 6_300_000})
    with pytest.raises(RequestTooLarge):
        runtime.invoke(runtime.functions["fn"], {"padding": "x" * MAX_REQUEST_BYTES})
    assert runtime.invoke(runtime.functions["fn"], {"size": 10}) == "x" * 10


@pytest.fixture(scope="module")
def stack(sandbox: Any) -> Iterator[Any]:
    with running_stack(sandbox, time_scale=0.2) as local:  # the trigger's 25 s timeout is 5 s here
        yield local


def test_a_killed_trigger_frees_its_idempotency_key_with_its_timeout(new_user: Any, sandbox: Any) -> None:
    # Given finAPI takes 7 s to answer the update, longer than the trigger's (scaled) 5 s timeout
    user: BankUser = new_user()
    connection = user.connections["DEMO0001"]
    sandbox.world.add_fault(method="POST", path="/update", connection_id=connection, delay_seconds=7, times=1)
    key = {"Idempotency-Key": "killed-trigger-1"}
    # When the trigger is killed by Lambda mid-request, the client gets API Gateway's 500
    first = user.api.trigger(connection, {"interface": "XS2A"}, headers=key)
    assert first.status_code == 500, first.text
    # Then a retry with the same key is not told the key is still in progress (it would be for an hour):
    # Powertools' in-progress record expired with the killed invocation, and the retry learns which update holds
    # the connection
    retry = user.api.trigger(connection, {"interface": "XS2A"}, headers=key)
    assert retry.status_code == 409, retry.text
    details = retry.json()["error"]["details"]
    assert "idempotencyKey" not in details and details["updateId"]


def test_step_functions_refuses_execution_input_over_256_kb(stack: Any) -> None:
    sfn = stack.boto3_client("stepfunctions")
    machine = stack.physical_id("UpdateConnectionStateMachine")
    with pytest.raises(ClientError) as refused:
        sfn.start_execution(stateMachineArn=machine, input=json.dumps({"pad": "x" * 262_144}))
    assert refused.value.response["Error"]["Code"] == "ValidationException"
