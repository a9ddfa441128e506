"""SuperviseUpdate: the workflow's one task per update, driving the update from wherever its record stands."""

from __future__ import annotations

from datetime import timedelta

from bankupdate.domain import lifecycle
from bankupdate.domain.errors import DownloadFailed
from bankupdate.domain.events import ConnectionNeedsUser, UpdateFailed, UpdateSucceeded
from bankupdate.domain.model import SkipReason, UpdateMode, UpdateStatus
from tests.usecases.scheduled import opted_in, started_unattended
from tests.usecases.system import DEMO, System

DOWNLOAD_FAILED = DownloadFailed("finAPI could not download").to_update_error()


def test_an_unattended_update_takes_the_lock_and_a_unit_of_budget_and_runs_without_psu(system: System) -> None:
    # Given a scheduled update of a connection opted in to background updates
    user = opted_in(system)
    update_id = started_unattended(system, user)
    # When its workflow's supervising task runs
    system.supervise(update_id)
    # Then finAPI was called once, without PSU headers, one unit of the day's budget is used, and the update succeeded
    (call,) = system.update_calls(user.connection)
    assert call.psu_present is False
    done = system.record(update_id)
    assert (done.mode, done.status) == (UpdateMode.UNATTENDED, UpdateStatus.SUCCEEDED)
    connection = system.connections.get(user.owner_id, user.connection)
    assert connection is not None and connection.active_update_id is None
    assert sum(connection.unattended.values()) == 1
    assert [type(e) for e in system.events.events] == [UpdateSucceeded]
    assert system.workflow.releases[-1][1].status is UpdateStatus.SUCCEEDED


def test_an_unattended_update_past_the_days_budget_fails_without_calling_finapi(system: System) -> None:
    # Given a connection whose bank day's budget is used up (by other unattended starts)
    user = opted_in(system)
    update_id = started_unattended(system, user)
    budget = system.settings.budget
    for _ in range(budget.usable_per_day):
        assert system.schedules.consume_unattended(
            user.owner_id, user.connection, budget=budget, now=system.clock.now()
        )
    # When its scheduled update is supervised
    system.supervise(update_id)
    # Then it failed for the budget, finAPI never heard of it, and the schedule waits for the bank's next day
    failed = system.record(update_id)
    assert failed.status is UpdateStatus.FAILED and failed.error is not None
    assert failed.error.code == "UNATTENDED_BUDGET_EXHAUSTED"
    assert system.update_calls(user.connection) == []
    connection = system.connections.get(user.owner_id, user.connection)
    assert connection is not None and connection.active_update_id is None
    assert connection.schedule.next_due_at == budget.next_day_start(system.clock.now())
    assert connection.schedule.last_skip_reason is SkipReason.BUDGET_EXHAUSTED


def test_an_unattended_update_finding_the_connection_locked_fails_without_calling_finapi(system: System) -> None:
    # Given the user's own update holds the connection when the scheduled one starts
    user = opted_in(system)
    update_id = started_unattended(system, user)
    running = system.trigger(user, credentials=DEMO)
    # When the scheduled update is supervised
    system.supervise(update_id)
    # Then it gave way: failed as already running, the user's update untouched, finAPI called only by the user
    failed = system.record(update_id)
    assert failed.status is UpdateStatus.FAILED and failed.error is not None
    assert failed.error.code == "UPDATE_ALREADY_RUNNING"
    assert len(system.update_calls(user.connection)) == 1
    connection = system.connections.get(user.owner_id, user.connection)
    assert connection is not None and connection.active_update_id == running.update_id
    assert sum(connection.unattended.values()) == 0


def test_an_unattended_update_the_bank_wants_sca_for_needs_the_user(system: System) -> None:
    # Given a scheduled connection whose bank asks for SCA by now (finAPI flags it; we have not heard yet)
    user = opted_in(system, stored_pin=True)
    update_id = started_unattended(system, user)
    system.sandbox.world.connections[user.connection].user_action_required = True
    # When its scheduled update runs
    system.supervise(update_id)
    # Then it failed as needing the user, the app is told, and background updates stop until the user acts
    failed = system.record(update_id)
    assert failed.status is UpdateStatus.FAILED and failed.error is not None
    assert (failed.error.code, failed.error.user_action_required) == ("USER_ACTION_REQUIRED", True)
    (needs_user,) = system.events.of_type(ConnectionNeedsUser)
    assert (needs_user.update_id, needs_user.reason) == (update_id, "USER_ACTION_REQUIRED")
    connection = system.connections.get(user.owner_id, user.connection)
    assert connection is not None and connection.health.user_action_required is True
    assert connection.schedule.last_skip_reason is SkipReason.USER_ACTION_REQUIRED
    assert list(system.schedules.due(now=system.clock.now() + timedelta(days=30))) == []


def test_an_unattended_update_whose_consent_expired_needs_the_user(system: System) -> None:
    # Given a scheduled connection whose consent ran out since it was last synced
    user = opted_in(system)
    update_id = started_unattended(system, user)
    system.sandbox.world.connections[user.connection].consent_expires_at = system.sandbox.world.now() - timedelta(1)
    # When its scheduled update runs
    system.supervise(update_id)
    # Then finAPI refused it for the consent, and the update needs the user
    failed = system.record(update_id)
    assert failed.error is not None and failed.error.code == "USER_ACTION_REQUIRED"
    assert failed.error.upstream_code == "INVALID_CONSENT"


def test_an_update_that_finished_before_the_task_started_releases_the_task_at_once(system: System) -> None:
    # Given a user-present update that failed (its lock still held: the finish died before the release)
    user = system.new_user()
    started = system.trigger(user, credentials=DEMO)
    system.updates.save(lifecycle.finish(system.record(started.update_id), system.clock.now()), expected_version=1)
    # When its supervising task starts
    system.supervise(started.update_id)
    # Then the task is released with the update's status, and what the finish left undone is done
    assert system.workflow.releases[-1][1].status is UpdateStatus.FAILED
    connection = system.connections.get(user.owner_id, user.connection)
    assert connection is not None and connection.active_update_id is None
    assert [type(e) for e in system.events.events][-1] is UpdateFailed


def test_a_task_for_an_update_that_does_not_exist_is_released_empty(system: System) -> None:
    # Given a workflow started for an update id nobody recorded
    from bankupdate.flow.recovery import workflow_input

    system.workflow.start(workflow_input("9" * 32, system.settings))
    # When its supervising task runs
    system.supervise("9" * 32)
    # Then the task ends, saying the update is gone
    assert system.workflow.releases[-1][1].status is None


def test_an_update_with_its_outcome_recorded_is_finished_by_the_task(system: System) -> None:
    # Given an update whose result was recorded but not finished (its finisher died)
    user = system.new_user()
    started = system.trigger(user, credentials=DEMO)
    error = lifecycle.fail(system.record(started.update_id), DOWNLOAD_FAILED, system.clock.now()).record
    system.updates.save(error, expected_version=1)
    # When the supervising task runs
    system.supervise(started.update_id)
    # Then it finishes the update
    assert system.record(started.update_id).status is UpdateStatus.FAILED
    assert system.workflow.releases[-1][1].status is UpdateStatus.FAILED


def test_a_user_present_update_interrupted_after_calling_finapi_is_looked_at_not_called_again(system: System) -> None:
    # Given a user-present update recorded as sent to finAPI, whose trigger died before recording the answer
    user = system.new_user()
    system.sync_connections()(owner_id=user.owner_id)
    started = system.trigger(user, credentials=DEMO)
    pending = system.record(started.update_id).model_copy(update={"status": UpdateStatus.PENDING, "challenge": None})
    system.updates.save(pending, expected_version=1)
    calls = len(system.update_calls(user.connection))
    # When its supervising task runs
    system.supervise(started.update_id)
    # Then finAPI's (non-idempotent) update is not called again: the looks decide, and find no fresh result
    assert len(system.update_calls(user.connection)) == calls
    assert system.record(started.update_id).status is UpdateStatus.FAILED


def test_an_unattended_update_finapi_fails_with_5xx_fails_retryably(system: System) -> None:
    user = opted_in(system)
    update_id = started_unattended(system, user)
    system.sandbox.world.add_fault(path="/bankConnections/update", status=500, times=1)
    system.supervise(update_id)
    failed = system.record(update_id)
    assert failed.status is UpdateStatus.FAILED and failed.error is not None
    assert (failed.error.code, failed.error.retryable) == ("UPSTREAM_UNAVAILABLE", True)


def test_an_unattended_update_whose_answer_got_lost_is_looked_at(system: System) -> None:
    # Given finAPI's answer to the scheduled update call getting lost after it started the download
    user = opted_in(system)
    update_id = started_unattended(system, user)
    system.sandbox.world.add_fault(path="/bankConnections/update", drop=True, when="after", times=1)
    # When the scheduled update runs
    system.supervise(update_id)
    # Then the looks find finAPI's fresh result, and finAPI was called only once
    assert system.record(update_id).status is UpdateStatus.SUCCEEDED
    assert len(system.update_calls(user.connection)) == 1
