"""Reading what an execution did, from moto's Step Functions history."""

from __future__ import annotations

import time
from typing import Any


def execution_arn(stack: Any, update_id: str) -> str:
    machine = stack.physical_id("UpdateConnectionStateMachine")
    return str(machine).replace(":stateMachine:", ":execution:") + f":{update_id}"


def history(stack: Any, update_id: str) -> list[dict[str, Any]]:
    sfn = stack.boto3_client("stepfunctions")
    events: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {"executionArn": execution_arn(stack, update_id), "maxResults": 1000}
    while True:
        page = sfn.get_execution_history(**kwargs)
        events += page["events"]
        if not page.get("nextToken"):
            return events
        kwargs["nextToken"] = page["nextToken"]


def wait_until_finished(stack: Any, update_id: str, timeout: float = 15.0) -> str:
    sfn = stack.boto3_client("stepfunctions")
    deadline = time.monotonic() + timeout
    while True:
        status = str(sfn.describe_execution(executionArn=execution_arn(stack, update_id))["status"])
        if status != "RUNNING" or time.monotonic() > deadline:
            return status
        time.sleep(0.05)


def transitions_of(stack: Any, update_id: str) -> list[str]:
    """The states the finished execution entered, in order (it must have finished)."""
    status = wait_until_finished(stack, update_id)
    assert status != "RUNNING", f"the execution of {update_id} is still running"
    return [e["stateEnteredEventDetails"]["name"] for e in history(stack, update_id) if "stateEnteredEventDetails" in e]
