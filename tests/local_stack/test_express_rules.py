"""The poll loop is an Express state machine, and the local stack holds it to Express's rules (local_stack/express.py):
what AWS refuses at creation is refused, an Express execution has no history to ask for, and it ends after its five
minutes whatever it is doing. The workflow still ends every update well."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from local_stack.stack import DeploymentRefused
from tests.conftest import BankUser, running_stack
from tests.support.template_variants import template_variant
from tests.support.workflow import poll_loops, transitions_of

NO_SCA = [{"label": "Onlinebanking-ID", "value": "demo_no_msa"}, {"label": "PIN", "value": "demo_no_msa"}]
# Express's five minutes are four seconds here; the loops do not know (they plan for 300 s), so the limit ends them.
EXPRESS_SECONDS = 4
# The Poll task's heartbeat: 11 s; a loop signs when its silence and next gap would reach 4 s (D36)
QUICK_SILENCE = {"POLL_MAX_GAP_SECONDS": "2", "POLL_RESERVE_SECONDS": "1", "POLL_COOL_DOWN_SILENCE_SECONDS": "1"}
# Lambda's timeouts shrink too (the poll function's 40 s to 12 s), so a poll hung at Express's limit fails soon after.
LAMBDA_TIME_SCALE = 0.3


@pytest.fixture(scope="module")
def stack(sandbox: Any) -> Iterator[Any]:
    with running_stack(
        sandbox, env=QUICK_SILENCE, express_max_seconds=EXPRESS_SECONDS, time_scale=LAMBDA_TIME_SCALE
    ) as local:
        yield local


def test_an_express_definition_that_waits_on_a_task_token_is_refused(sandbox: Any, tmp_path: Path) -> None:
    # Given a template whose poll loop (Express) would wait on a task token, which Express does not support
    def waits_on_a_token(template: dict[str, Any]) -> None:
        properties = template["Resources"]["PollLoopStateMachine"]["Properties"]
        definition = json.loads(Path(properties.pop("DefinitionUri")).read_text())
        definition["States"]["Poll"]["Resource"] += ".waitForTaskToken"
        properties["Definition"] = definition

    template = template_variant(tmp_path, waits_on_a_token)
    # When it is deployed, then the state machine is refused, as CreateStateMachine refuses it
    with pytest.raises(DeploymentRefused, match="waitForTaskToken"), running_stack(sandbox, template=template):
        pass


def test_an_express_execution_has_no_history_or_description_to_ask_for(new_user: Any, stack: Any) -> None:
    # Given an update whose poll loop ran
    user: BankUser = new_user(download_seconds=1)
    started = user.api.trigger(user.connections["DEMO0001"], {"interface": "XS2A", "loginCredentials": NO_SCA})
    update_id = started.json()["updateId"]
    user.api.wait_for(update_id, {"SUCCEEDED"})
    (loop,) = poll_loops(stack, update_id)
    sfn = stack.boto3_client("stepfunctions")
    machine = stack.physical_id("PollLoopStateMachine")
    execution = machine.replace(":stateMachine:", ":execution:") + f":{loop['name']}"
    # When someone asks Step Functions about it, then Step Functions says Express keeps none
    asks: list[Callable[[], object]] = [
        lambda: sfn.describe_execution(executionArn=execution),
        lambda: sfn.get_execution_history(executionArn=execution),
        lambda: sfn.list_executions(stateMachineArn=machine),
    ]
    for ask in asks:
        with pytest.raises(ClientError) as refused:
            ask()
        assert refused.value.response["Error"]["Code"] == "StateMachineTypeNotSupported"


def test_loops_that_express_ends_are_noticed_and_the_update_ends_as_stalled(new_user: Any, stack: Any) -> None:
    # Given a download longer than any loop may live here
    user: BankUser = new_user(download_seconds=120)
    # When the user syncs
    started = user.api.trigger(user.connections["DEMO0001"], {"interface": "XS2A", "loginCredentials": NO_SCA})
    update_id = started.json()["updateId"]
    # Then Express ends each loop at its limit; the Poll task's heartbeat notices, starts one more loop (its Retry),
    # and when that one ends too, Finalize ends the update as stalled and frees the connection
    done = user.api.wait_for(update_id, {"FAILED"}, timeout=90)
    assert done["error"]["code"] == "UPDATE_STALLED" and done["error"]["retryable"] is True
    assert user.api.wait_until_unlocked(user.connections["DEMO0001"])["activeUpdateId"] is None
    assert transitions_of(stack, update_id) == ["Poll", "Finalize"]
    loops = poll_loops(stack, update_id)
    # (the first loop ran into Express's limit; the second either did too or ended itself once the task was over)
    assert len(loops) == 2 and loops[0]["status"] == "TIMED_OUT"


def test_a_loop_that_express_ends_mid_poll_stays_timed_out_when_the_poll_then_fails(new_user: Any, stack: Any) -> None:
    # Given an update whose first poll hangs until Lambda's timeout (12 s here), long past the loop's Express limit
    user: BankUser = new_user(download_seconds=1)
    stack.runtime.stall_next("PollUpdateStatusFunction")
    # When the user syncs, and the hung poll fails after Express ended its loop
    started = user.api.trigger(user.connections["DEMO0001"], {"interface": "XS2A", "loginCredentials": NO_SCA})
    update_id = started.json()["updateId"]
    assert user.api.wait_for(update_id, {"SUCCEEDED"}, timeout=60)["status"] == "SUCCEEDED"
    first = _first_loop_once_its_task_failed(stack, update_id)
    # Then the loop ended as AWS ends it at the limit (TIMED_OUT), not with its task's failure
    assert first["status"] == "TIMED_OUT"


def _first_loop_once_its_task_failed(stack: Any, update_id: str) -> dict[str, Any]:
    """The first loop once its task failed and moto ended it (the event is recorded a moment before the end)."""
    deadline = time.monotonic() + 30
    while True:
        first = poll_loops(stack, update_id)[0]
        failed = any(e["type"] in ("TaskFailed", "LambdaFunctionFailed") for e in first["events"])
        if failed and first["status"] != "RUNNING":
            return first
        assert time.monotonic() < deadline, first["events"][-3:]
        time.sleep(0.2)
