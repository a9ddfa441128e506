"""A local stack starts as AWS would deploy it and ends with everything it started: a reservation of Lambda
concurrency comes out of the account's, or is refused as Lambda refuses it; Step Functions' interpreter runs each
execution in a thread of the test process, and one left running past its stack would make its next AWS calls under
the next stack's patches (its role, its quotas, a throttle a test aimed at that stack's own workflows)."""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest
from moto.stepfunctions.parser.models import stepfunctions_parser_backends

from local_stack.quotas import Quotas
from local_stack.stack import DeploymentRefused
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
        executions = [e for machine in backend.state_machines for e in machine.executions if _status(e) == "RUNNING"]
        assert update_id in {e.name for e in executions} and len(executions) >= 2  # the workflow and its loop
        api.close()
    # When the stack stops: then each execution that was running ends, its interpreter thread with it (the status is
    # set as the thread leaves the program), the workflow and the loop alike
    deadline = time.monotonic() + 30
    while running := [e.name for e in executions if _status(e) not in ENDED]:
        assert time.monotonic() < deadline, f"executions still running after their stack stopped: {running}"
        time.sleep(0.1)
    # (the workflow's interrupted wait on its loop's token ends it as a task timeout would: FAILED, not ABORTED)
    assert {_status(e) for e in executions} <= {"ABORTED", "FAILED"}


def _status(execution: Any) -> str:
    return str(getattr(execution.exec_status, "value", execution.exec_status))


def test_the_polls_reservation_comes_out_of_the_accounts_concurrency(sandbox: Any) -> None:
    # Given the template deployed with 300 executions reserved for PollUpdateStatus, under AWS's quotas
    with running_stack(sandbox, quotas=Quotas.default(), PollReservedConcurrency="300") as stack:
        # Then the poll function has its own pool of 300 and the other functions share the 700 left
        quotas = stack.quotas.quotas
        assert quotas.pool("lambda.function.PollUpdateStatusFunction").limit == 300
        assert quotas.pool("lambda.concurrency").limit == 700


def test_a_reservation_leaving_fewer_than_100_unreserved_is_refused_at_deployment(sandbox: Any) -> None:
    # Given the template with 901 of the account's 1,000 executions reserved for PollUpdateStatus
    # When it is deployed, then the deployment fails as Lambda's InvalidParameterValueException fails it
    with (
        pytest.raises(DeploymentRefused, match=r"UnreservedConcurrentExecution below its minimum value of \[100\]"),
        running_stack(sandbox, quotas=Quotas.default(), PollReservedConcurrency="901"),
    ):
        pass
