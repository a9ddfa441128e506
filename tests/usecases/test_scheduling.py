"""ScheduleUpdates and StartScheduledUpdate: the due connections queued, then per connection the skip rules
and exactly one scheduled update per slot."""

from __future__ import annotations

from datetime import timedelta

import pytest
from pydantic import SecretStr

from bankupdate.api.models import ScheduleView
from bankupdate.api.views import connection_view
from bankupdate.contract import DueConnection
from bankupdate.domain.errors import BankUnsupported, DownloadFailed
from bankupdate.domain.events import ConsentExpiringSoon
from bankupdate.domain.model import ConnectionHealth, SkipReason, UpdateMode, UpdateStatus
from bankupdate.domain.scheduling import scheduled_update_id
from bankupdate.usecases.start_scheduled_update import ScheduledStart
from tests.usecases.scheduled import due_now, opted_in
from tests.usecases.system import DEMO, TAN, System


def test_the_due_connections_are_queued_in_batches_of_ten(system: System) -> None:
    # Given 23 connections opted in (due now) and one that opted out
    user = system.new_user(*["DEMO0001"] * 24)
    system.use_cases.sync_connections()(owner_id=user.owner_id)
    for connection_id in user.connections:
        system.use_cases.set_schedule()(owner_id=user.owner_id, connection_id=connection_id, enabled=True)
    system.use_cases.set_schedule()(owner_id=user.owner_id, connection_id=user.connections[-1], enabled=False)
    # When the scheduler runs
    run = system.use_cases.schedule_updates()()
    # Then the 23 due ones are queued, each once, in three calls
    assert (run.due, run.enqueued, run.queue_calls) == (23, 23, 3)
    queued = [DueConnection.model_validate(m.model_dump()) for m in system.due_queue.sent]
    assert sorted(m.connection_id for m in queued) == sorted(user.connections[:-1])


def test_a_due_connection_gets_one_unattended_update_and_its_next_slot(system: System) -> None:
    # Given a connection due now
    user = opted_in(system)
    (due,) = due_now(system)
    # When its due message is handled
    outcome = system.start_scheduled(due)
    # Then one unattended update is recorded under the slot's id, started at finAPI, and its workflow started
    update_id = scheduled_update_id(user.owner_id, user.connection, due.slot)
    record = system.record(update_id)
    assert outcome is ScheduledStart.STARTED
    assert (record.mode, record.status) == (UpdateMode.UNATTENDED, UpdateStatus.IN_PROGRESS)
    assert [s.update_id for s in system.workflow.starts] == [update_id]
    assert len(system.update_calls(user.connection)) == 1
    # And the connection's next slot is one interval on, and the scheduler does not queue it before then
    connection = system.connections.get(user.owner_id, user.connection)
    interval = timedelta(minutes=system.settings.schedule_interval_minutes)
    assert connection is not None and connection.schedule.next_due_at == system.clock.now() + interval
    assert due_now(system) == []


def _skipped(system: System, user_owner: str, connection_id: int, due: DueConnection) -> tuple[SkipReason, object]:
    assert system.start_scheduled(due) is ScheduledStart.SKIPPED
    connection = system.connections.get(user_owner, connection_id)
    assert connection is not None and connection.schedule.last_skip_reason is not None
    assert system.updates.all() == [] or all(r.mode is UpdateMode.USER_PRESENT for r in system.updates.all())
    return connection.schedule.last_skip_reason, connection.schedule.next_due_at


def test_a_connection_that_opted_out_after_it_was_queued_is_skipped_and_stays_out(system: System) -> None:
    user = opted_in(system)
    (due,) = due_now(system)
    system.use_cases.set_schedule()(owner_id=user.owner_id, connection_id=user.connection, enabled=False)
    assert system.start_scheduled(due) is ScheduledStart.SKIPPED
    connection = system.connections.get(user.owner_id, user.connection)
    assert connection is not None and (connection.schedule.enabled, connection.schedule.next_due_at) == (False, None)
    assert system.workflow.starts == []


@pytest.mark.parametrize(
    ("health", "reason"),
    [
        (ConnectionHealth(user_action_required=True), SkipReason.USER_ACTION_REQUIRED),
        (ConnectionHealth(last_error=BankUnsupported("gone").to_update_error()), SkipReason.PERMANENT_ERROR),
    ],
)
def test_a_connection_only_the_user_can_fix_is_skipped_and_leaves_the_index(
    system: System, health: ConnectionHealth, reason: SkipReason
) -> None:
    # Given a due connection whose last update left it needing the user, or failing for good
    user = opted_in(system)
    (due,) = due_now(system)
    found = system.connections.get(user.owner_id, user.connection)
    assert found is not None
    system.items.put(found.model_copy(update={"health": health}))
    # When its due message is handled
    skipped, next_due = _skipped(system, user.owner_id, user.connection, due)
    # Then it is skipped for that reason and leaves the due index (a user-present success brings it back)
    assert (skipped, next_due) == (reason, None)
    assert system.workflow.starts == []


def test_a_connection_whose_consent_expired_is_skipped(system: System) -> None:
    user = opted_in(system)
    (due,) = due_now(system)
    found = system.connections.get(user.owner_id, user.connection)
    assert found is not None
    expired = found.health.model_copy(update={"consent_expires_at": system.clock.now() - timedelta(minutes=1)})
    system.items.put(found.model_copy(update={"health": expired}))
    assert _skipped(system, user.owner_id, user.connection, due) == (SkipReason.CONSENT_EXPIRED, None)


def test_a_connection_with_a_running_update_waits_for_its_next_slot(system: System) -> None:
    # Given a due connection the user is updating right now
    user = opted_in(system)
    (due,) = due_now(system)
    system.trigger(user, credentials=DEMO)
    # When its due message is handled
    skipped, next_due = _skipped(system, user.owner_id, user.connection, due)
    # Then it is skipped until its next slot (it stays scheduled)
    interval = timedelta(minutes=system.settings.schedule_interval_minutes)
    assert (skipped, next_due) == (SkipReason.UPDATE_RUNNING, system.clock.now() + interval)


def test_a_connection_whose_budget_is_spent_waits_for_the_banks_next_day(system: System) -> None:
    user = opted_in(system)
    (due,) = due_now(system)
    budget = system.settings.budget
    for _ in range(budget.usable_per_day):
        system.schedules.consume_unattended(user.owner_id, user.connection, budget=budget, now=system.clock.now())
    skipped, next_due = _skipped(system, user.owner_id, user.connection, due)
    assert (skipped, next_due) == (SkipReason.BUDGET_EXHAUSTED, budget.next_day_start(system.clock.now()))


def test_a_transient_last_error_does_not_stop_background_updates(system: System) -> None:
    user = opted_in(system)
    (due,) = due_now(system)
    found = system.connections.get(user.owner_id, user.connection)
    assert found is not None
    health = found.health.model_copy(update={"last_error": DownloadFailed("bank hiccup").to_update_error()})
    system.items.put(found.model_copy(update={"health": health}))
    assert system.start_scheduled(due) is ScheduledStart.STARTED


def test_users_are_warned_once_when_a_consent_nears_its_end(system: System) -> None:
    # Given a due connection whose consent ends in three days
    user = opted_in(system, consent_expires_at=None)
    found = system.connections.get(user.owner_id, user.connection)
    assert found is not None
    expires = system.clock.now() + timedelta(days=3)
    system.items.put(
        found.model_copy(update={"health": found.health.model_copy(update={"consent_expires_at": expires})})
    )
    (due,) = due_now(system)
    # When its due message is handled, and delivered once more
    system.start_scheduled(due)
    system.start_scheduled(due)
    # Then one warning went out, naming the date
    (warning,) = system.events.of_type(ConsentExpiringSoon)
    assert (warning.connection_id, warning.consent_expires_at) == (user.connection, expires)


def test_a_scheduled_update_that_ran_shows_no_skip_any_more(system: System) -> None:
    # Given a connection whose scheduled run was skipped while the user's own update ran
    user = opted_in(system)
    running = system.trigger(user, credentials=DEMO)  # the bank waits for the user's TAN procedure: the lock is held
    (due,) = due_now(system)
    assert system.start_scheduled(due) is ScheduledStart.SKIPPED
    view = _schedule_seen_by_the_user(system, user.owner_id, user.connection)
    assert (view.last_skip_reason, view.last_skip_at) == ("UPDATE_RUNNING", system.clock.now())
    # When the user's update ends well (smsTAN, the TAN, the download), and the next scheduled run starts its update
    system.run(running.update_id)
    system.answer(user, running.update_id, two_step_procedure_id="901")
    system.answer(user, running.update_id, challenge_response=SecretStr(TAN))
    system.run(running.update_id)
    assert system.record(running.update_id).status is UpdateStatus.SUCCEEDED
    system.use_cases.set_schedule()(owner_id=user.owner_id, connection_id=user.connection, enabled=True)
    (due,) = due_now(system)
    assert system.start_scheduled(due) is ScheduledStart.STARTED
    # Then the user sees no skip at all: neither a reason nor the time of one
    view = _schedule_seen_by_the_user(system, user.owner_id, user.connection)
    assert (view.last_skip_reason, view.last_skip_at, view.remedy) == (None, None, None)


def _schedule_seen_by_the_user(system: System, owner_id: str, connection_id: int) -> ScheduleView:
    record = system.use_cases.read_updates().connection(owner_id=owner_id, connection_id=connection_id)
    return connection_view(record, system.settings.budget, system.clock.now()).schedule
