"""Reading what an execution did, from moto's Step Functions history."""

from __future__ import annotations

import json
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


def wait_until_finished(stack: Any, update_id: str, timeout: float = 60.0) -> str:
    """The execution's status once it left RUNNING. The update's record turns terminal inside the poll function, a few
    transitions before the execution ends (seconds on a loaded machine): the bound only keeps a broken run short."""
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


def polls_of(stack: Any, update_id: str) -> list[dict[str, Any]]:
    """The polls of the update, as its execution history tells them: each Poll task ends with the polls its loops
    made (the task's output when the update finished, its hand-back's cause when the update waited elsewhere)."""
    assert wait_until_finished(stack, update_id) != "RUNNING", f"the execution of {update_id} is still running"
    polls: list[dict[str, Any]] = []
    for event in history(stack, update_id):
        if event["type"] == "TaskSucceeded" and event["taskSucceededEventDetails"].get("resourceType") == "states":
            polls += json.loads(event["taskSucceededEventDetails"]["output"]).get("polls", [])
        elif event["type"] == "TaskFailed" and event["taskFailedEventDetails"].get("resourceType") == "states":
            cause = event["taskFailedEventDetails"].get("cause") or "{}"
            polls += json.loads(cause).get("polls", []) if cause.startswith("{") else []
    return polls


def poll_loops(stack: Any, update_id: str | None) -> list[dict[str, Any]]:
    """The update's Express poll loops, every update's for None (from the local stand-in for the loop's CloudWatch
    log)."""
    loops: list[dict[str, Any]] = stack.express_history("PollLoopStateMachine")
    return loops if update_id is None else [e for e in loops if e["input"].get("updateId") == update_id]


def ended_poll_loops(stack: Any, update_id: str | None, timeout: float = 30) -> list[dict[str, Any]]:
    """The update's poll loops (every update's for None) once none runs: a loop's last state (Done) comes after the
    Finalize it handed the update to has already written the record and freed the lock."""
    deadline = time.monotonic() + timeout
    loops = poll_loops(stack, update_id)
    while any(loop["status"] == "RUNNING" for loop in loops):
        assert time.monotonic() < deadline, f"poll loops of {update_id} still running"
        time.sleep(0.1)
        loops = poll_loops(stack, update_id)
    return loops
