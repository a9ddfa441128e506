"""LookAtUpdate and the look loop: short gaps slept in the worker, long ones parked on the look timer, every way a
download ends, and the workflow kept waiting while it runs."""

from __future__ import annotations

from itertools import pairwise

import pytest

from bankupdate.domain.model import UpdateOptions, UpdateStatus
from bankupdate.flow.progress import look_message
from bankupdate.ports import Invocation
from tests.usecases.system import INVOCATION, NO_SCA, BankUser, System


def downloading(system: System, seconds: float, **options: object) -> tuple[BankUser, str]:
    """A user-present update whose finAPI download takes ``seconds``, started and handed to its workflow."""
    user = system.new_user(download_seconds=seconds, **options)
    started = system.trigger(user, credentials=NO_SCA)
    system.supervise(started.update_id)
    return user, started.update_id


def test_a_short_download_is_watched_inside_the_supervising_invocation(system: System) -> None:
    # When a 4-second download is supervised
    _, update_id = downloading(system, 4)
    # Then every gap was slept in the worker (none reached the 1 s inline limit) and nothing waits on the timer
    done = system.record(update_id)
    assert done.status is UpdateStatus.SUCCEEDED
    assert system.clock.sleeps and max(system.clock.sleeps) <= 1
    assert system.timer.scheduled == []
    assert done.poll_count == len(system.clock.sleeps) + 1


def test_a_long_download_parks_its_long_gaps_on_the_look_timer(system: System) -> None:
    # Given a download of two minutes, supervised: the early gaps are slept, the first long one is parked
    _, update_id = downloading(system, 120)
    assert system.record(update_id).status is UpdateStatus.IN_PROGRESS
    assert len(system.timer.pending) == 1 and system.timer.pending[0].delay_seconds > 1
    # When the timer delivers the looks
    delivered = system.deliver_looks()
    # Then the download's end is noticed within the lag the gaps allow, and the update succeeded
    done = system.record(update_id)
    assert done.status is UpdateStatus.SUCCEEDED and done.result is not None
    assert delivered >= 2 and all(h.delay_seconds > 1 for h in system.timer.scheduled)
    assert done.result.finished_at is not None and done.triggered_at is not None
    lag = (done.result.finished_at - done.triggered_at).total_seconds() - 120
    assert 0 <= lag <= 120 * system.settings.poll_lag_ratio + 1


def test_an_invocation_running_out_of_time_hands_the_next_look_to_the_timer(system: System) -> None:
    # Given a download of 30 s, looked at by an invocation with 40 s left (a look needs finAPI's timeout and more)
    user = system.new_user(download_seconds=30)
    started = system.trigger(user, credentials=NO_SCA)
    message = look_message(started, alive_at=system.clock.now())
    # When the look runs
    system.look_at_update()(message, Invocation(seconds_left=40.0, memory_mb=INVOCATION.memory_mb))
    # Then it slept only while time was left, and parked the rest on the timer
    assert sum(system.clock.sleeps) < 40 - system.settings.finapi_timeout_seconds
    assert len(system.timer.pending) == 1
    system.deliver_looks()
    assert system.record(started.update_id).status is UpdateStatus.SUCCEEDED


def test_a_download_past_its_deadline_times_out(system: System) -> None:
    # Given a download that would take longer than the update's deadline
    _, update_id = downloading(system, system.settings.update_deadline_seconds * 2)
    # When the looks go on
    system.deliver_looks()
    # Then the update timed out at its deadline, not before, and the workflow was released
    failed = system.record(update_id)
    assert failed.status is UpdateStatus.FAILED and failed.error is not None and failed.error.code == "TIMED_OUT"
    assert failed.deadline_at is not None and failed.updated_at >= failed.deadline_at
    assert not system.workflow.is_open(update_id)


def test_a_long_download_keeps_the_workflow_waiting(system: System) -> None:
    # When a download of 25 minutes is watched (the deadline is raised above it)
    system.settings = system.settings.model_copy(update={"update_deadline_seconds": 3000})
    _, update_id = downloading(system, 1500)
    system.deliver_looks()
    # Then the workflow heard from the update more often than its heartbeat demands
    assert system.record(update_id).status is UpdateStatus.SUCCEEDED
    started_at = system.record(update_id).triggered_at
    assert started_at is not None
    heard = [started_at, *system.workflow.signs_of_life[update_id]]
    assert len(heard) >= 3
    gaps = [(later - earlier).total_seconds() for earlier, later in pairwise(heard)]
    assert max(gaps) < system.settings.heartbeat_seconds


def test_the_looks_stop_once_the_workflow_gave_up(system: System) -> None:
    # Given a long download whose workflow's task is over (it timed out; Finalize has not run yet)
    _, update_id = downloading(system, 1500)
    system.workflow.catch(update_id, "States.HeartbeatTimeout")
    # When the timer delivers the looks
    system.deliver_looks()
    # Then the chain stopped at the first sign of life the workflow refused, leaving the update to Finalize
    assert system.workflow.refused and system.timer.pending == []
    assert system.record(update_id).status is UpdateStatus.IN_PROGRESS


@pytest.mark.parametrize("fault", [{"status": 500, "times": 3}, {"lock": True, "times": 1}])
def test_a_look_finapi_cannot_answer_is_simply_tried_again(system: System, fault: dict[str, object]) -> None:
    # Given finAPI failing reads of the connection for a moment (500s through the retries, or locked)
    user = system.new_user(download_seconds=4)
    started = system.trigger(user, credentials=NO_SCA)
    system.sandbox.world.add_fault(method="GET", path=f"/bankConnections/{user.connection}", **fault)
    # When the workflow looks
    system.supervise(started.update_id)
    # Then the update still succeeded
    assert system.record(started.update_id).status is UpdateStatus.SUCCEEDED


def test_categorization_is_awaited_when_asked(system: System) -> None:
    user = system.new_user()
    started = system.trigger(user, credentials=NO_SCA, options=UpdateOptions(wait_for_categorization=True))
    system.supervise(started.update_id)
    done = system.record(started.update_id)
    assert done.result is not None and done.result.categorization_status == "READY"


def test_a_download_that_refreshed_no_account_is_a_failed_update(system: System) -> None:
    _, update_id = downloading(system, 4, failing_account_indexes=[0, 1])
    failed = system.record(update_id)
    assert failed.status is UpdateStatus.FAILED and failed.error is not None and failed.error.code == "DOWNLOAD_FAILED"
    assert failed.result is not None and {a.status for a in failed.result.accounts} == {"DOWNLOAD_FAILED"}


def test_a_download_the_bank_rejected_fails_with_the_banks_message(system: System) -> None:
    user = system.new_user()
    system.sandbox.world.connections[user.connection].fail_next_update_with = "BANK_SERVER_REJECTION"
    started = system.trigger(user, credentials=NO_SCA)
    system.supervise(started.update_id)
    failed = system.record(started.update_id)
    assert failed.error is not None and failed.error.code == "BANK_REJECTED" and failed.error.user_action_required


def test_a_late_look_at_a_finished_update_changes_nothing(system: System) -> None:
    # Given a finished update, and a look for it still on its way (a duplicate chain)
    _, update_id = downloading(system, 4)
    done = system.record(update_id)
    events = len(system.events.events)
    # When the late look arrives
    system.look(look_message(done, alive_at=system.clock.now()))
    # Then the update and its events are as they were
    assert system.record(update_id) == done and len(system.events.events) == events
