"""A local stack ends with everything it started: Step Functions' interpreter runs each execution in a thread of the
test process, and one left running past its stack would make its next AWS calls under the next stack's patches
(its role, its quotas, a throttle a test aimed at that stack's own workflows)."""

from __future__ import annotations

import time
import uuid
from typing import Any

from moto.stepfunctions.parser.models import stepfunctions_parser_backends

from local_stack.template import ACCOUNT_ID, REGION
from tests.conftest import register_finapi_user, running_stack
from tests.support.api_client import BankUpdateApi
from tests.support.workflow import poll_loops

ENDED = {"ABORTED", "SUCCEEDED", "FAILED", "TIMED_OUT"}


def test_a_stopped_stack_leaves_no_execution_running(sandbox: Any) -> None:
    # Given a stack whose update is mid-download: its workflow waits on its poll loop, which waits between looks
    suffix = uuid.uuid4().hex[:10]
    username = f"finapi-{suffix}"
    sandbox.world.create_user(username, f"pw-{suffix}")
    connection = sandbox.world.add_connection(username, bank_blz="DEMO0001", download_seconds=60)
    with running_stack(sandbox) as stack:
        register_finapi_user(stack, f"user-{suffix}", username, f"pw-{suffix}")
        api = BankUpdateApi(stack.api_url, stack.issue_token(sub=f"user-{suffix}"))
        answer = api.trigger(connection, {"interface": "XS2A"})
        assert answer.status_code == 202, answer.text
        update_id = answer.json()["updateId"]
        deadline = time.monotonic() + 30
        while not any(loop["status"] == "RUNNING" for loop in poll_loops(stack, update_id)):
            assert time.monotonic() < deadline, "the update's poll loop never started"
            time.sleep(0.1)
        backend = stepfunctions_parser_backends[ACCOUNT_ID][REGION]
        executions = [e for machine in backend.state_machines for e in machine.executions]
        assert {_status(e) for e in executions} == {"RUNNING"}, [_status(e) for e in executions]
        api.close()
    # When the stack stops: then each of its executions ends, its interpreter thread with it (the status is set as
    # the thread leaves the program), the workflow and the loop alike
    deadline = time.monotonic() + 10
    while running := [e.name for e in executions if _status(e) not in ENDED]:
        assert time.monotonic() < deadline, f"executions still running after their stack stopped: {running}"
        time.sleep(0.1)
    # (the workflow's interrupted wait on its loop's token ends it as a task timeout would: FAILED, not ABORTED)
    assert sorted(_status(e) for e in executions) in (["ABORTED", "ABORTED"], ["ABORTED", "FAILED"])


def _status(execution: Any) -> str:
    return str(getattr(execution.exec_status, "value", execution.exec_status))
