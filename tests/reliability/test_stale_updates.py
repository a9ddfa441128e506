"""The stale-update reconciler: no connection stays locked past a Finalize that kept failing, and no update stays open
without a workflow — found by the periodic run, not only when the user comes back."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from bankupdate import composition
from bankupdate.contract import WaitingTask
from bankupdate.domain.model import UpdateStatus
from tests.conftest import BankUser, running_stack
from tests.reliability.test_crash_consistency import _orphan
from tests.support.template_variants import drop_statement, template_variant
from tests.support.workflow import wait_until_finished

DEMO = [{"label": "Onlinebanking-ID", "value": "demo"}, {"label": "PIN", "value": "demo"}]
RECONCILER = "ReconcileStaleUpdatesFunctionReconciler"


def finalize_cannot_publish(template: dict[str, Any]) -> None:
    """A Finalize that fails every time (its role may not publish the outcome event), so Finalize's retries run out."""
    drop_statement(template, "FinalizeFunction", "OutcomeEvents")


@pytest.fixture(scope="module")
def stack(sandbox: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    template: Path = template_variant(tmp_path_factory.mktemp("finalize-fails"), finalize_cannot_publish)
    with running_stack(sandbox, template=template, AuthenticationWindowSeconds="3") as local:
        yield local


def wait_for(condition: Any, what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.2)


def test_a_lock_left_by_a_failed_finalize_is_released_by_the_next_reconciler_run(new_user: Any, stack: Any) -> None:
    # Given an update whose user never answers, and a Finalize that fails until its retries run out
    user: BankUser = new_user()
    connection = user.connections["DEMO0001"]
    update = user.api.trigger(connection, {"interface": "XS2A", "loginCredentials": DEMO}).json()
    assert wait_until_finished(stack, update["updateId"], timeout=90) == "FAILED"  # FinalizeFailed
    # The update ended (its window closed), but the connection is still locked: Finalize died before releasing it
    assert user.api.update(update["updateId"]).json()["status"] == "EXPIRED"
    assert user.api.connection(connection).json()["activeUpdateId"] == update["updateId"]
    # When the reconciler runs (EventBridge Scheduler, every five minutes)
    run = stack.fire_schedule(RECONCILER)
    # Then it repaired that update: the lock is free, the outcome event is out, and the user can sync again
    assert run["failedRepaired"] >= 1
    assert user.api.connection(connection).json()["activeUpdateId"] is None
    events = [e for e in stack.published_events() if e["detail"].get("updateId") == update["updateId"]]
    assert [e["detail-type"] for e in events if "Expired" in e["detail-type"]] == ["BankConnectionUpdate Expired"]
    assert user.api.trigger(connection, {"interface": "XS2A"}).status_code == 202


def test_an_update_that_never_got_a_workflow_is_ended_by_the_reconciler(new_user: Any, stack: Any) -> None:
    # Given a trigger that died after taking the lock and calling finAPI, before starting the workflow, and a user
    # who does not come back
    user: BankUser = new_user()
    connection = user.connections["DEMO0001"]
    orphan = _orphan(user, connection, UpdateStatus.PENDING)
    # When the reconciler runs
    run = stack.fire_schedule(RECONCILER)
    # Then it started the orphan's workflow, which found out what finAPI did and ended the update
    assert run["recovered"] >= 1
    wait_for(lambda: user.api.update(orphan).json()["status"] in ("SUCCEEDED", "FAILED"), "the orphan never ended")
    wait_for(lambda: user.api.connection(connection).json()["activeUpdateId"] is None, "the lock was never released")


def test_a_sync_finishes_an_update_whose_workflow_ended_while_it_waited_for_the_user(new_user: Any, stack: Any) -> None:
    # Given an update waiting for the user, its workflow's task token parked on it
    user: BankUser = new_user()
    connection = user.connections["DEMO0001"]
    update = user.api.trigger(connection, {"interface": "XS2A", "loginCredentials": DEMO}).json()
    updates = composition.adapters().updates
    wait_for(lambda: (s := updates.get(update["updateId"])) is not None and s.task_kind is WaitingTask.USER, "no wait")
    parked = updates.get(update["updateId"])
    assert parked is not None and parked.task_token is not None
    # ... whose workflow ended without finishing it: the user never answered, and Finalize died before its first
    # write (the record still waits for the user, with the task token of a workflow that is over)
    assert wait_until_finished(stack, update["updateId"], timeout=90) == "FAILED"
    current = updates.get(update["updateId"])
    assert current is not None
    long_ago = parked.record.updated_at - timedelta(minutes=10)
    updates.save(parked.record.model_copy(update={"updated_at": long_ago}), expected_version=current.record.version)
    assert updates.park_task_token(
        update["updateId"], parked.task_token, kind=WaitingTask.USER, while_status=UpdateStatus.AUTHENTICATION_REQUIRED
    )
    # When the user syncs the connection again
    again = user.api.trigger(connection, {"interface": "XS2A"})
    # Then the trigger finished that update (handing the task token back, with its own role) instead of a 500
    assert again.status_code == 409, again.text
    details = again.json()["error"]["details"]
    assert (details["updateId"], details["recovered"]) == (update["updateId"], True)
    ended = user.api.update(update["updateId"]).json()
    assert (ended["status"], ended["error"]["code"]) == ("FAILED", "UPDATE_STALLED")
    assert user.api.connection(connection).json()["activeUpdateId"] is None
    assert user.api.trigger(connection, {"interface": "XS2A"}).status_code == 202
