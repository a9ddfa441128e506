"""Bounded waits: a user who never answers, and a download that outlives its deadline."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import BankUser, running_stack
from tests.support.workflow import transitions_of

DEMO = [{"label": "Onlinebanking-ID", "value": "demo"}, {"label": "PIN", "value": "demo"}]


@pytest.fixture(scope="module")
def stack(sandbox: Any) -> Iterator[Any]:
    # Windows of a few seconds (the template's minimum is for deployments; the local stack takes what it is given)
    with running_stack(sandbox, AuthenticationWindowSeconds="4", UpdateDeadlineSeconds="4") as local:
        yield local


def test_user_never_answers_so_the_update_expires_and_the_lock_is_released(new_user: Any, stack: Any) -> None:
    from tests.support.workflow import execution_arn

    user: BankUser = new_user()
    connection = user.connections["DEMO0001"]
    update = user.api.trigger(connection, {"interface": "XS2A", "loginCredentials": DEMO}).json()
    assert update["status"] == "AUTHENTICATION_REQUIRED"
    # When nobody answers within the window (4 s here; the workflow's heartbeat gives up a grace period later)
    done = user.api.wait_for(update["updateId"], {"EXPIRED"}, timeout=60)
    # Then the update is EXPIRED with a remedy, the connection is free again, and a late answer is told so
    assert done["error"]["code"] == "AUTHENTICATION_EXPIRED"
    assert user.api.wait_until_unlocked(connection)["activeUpdateId"] is None
    late = user.api.answer(update["updateId"], {"twoStepProcedureId": "901"})
    assert late.status_code == 410
    # And the workflow noticed the silence itself: the wait for the user ran out of heartbeat into Finalize
    assert transitions_of(stack, update["updateId"]) == ["Poll", "AwaitUser", "Finalize"]
    assert (
        stack.boto3_client("stepfunctions").describe_execution(executionArn=execution_arn(stack, update["updateId"]))[
            "status"
        ]
        == "SUCCEEDED"
    )


def test_download_outliving_the_deadline_times_out(new_user: Any, sandbox: Any) -> None:
    # Given a bank whose download takes longer than the deadline
    user: BankUser = new_user(download_seconds=120)
    started = user.api.trigger(user.connections["DEMO0001"], {"interface": "XS2A"})
    assert started.status_code == 202, started.text
    # Then the poll loop gives up at the deadline
    done = user.api.wait_for(started.json()["updateId"], {"FAILED"}, timeout=90)
    assert done["error"]["code"] == "TIMED_OUT"
    assert done["error"]["retryable"] is True
    assert user.api.wait_until_unlocked(user.connections["DEMO0001"])["activeUpdateId"] is None
