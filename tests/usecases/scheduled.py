"""Givens for the scheduled (unattended) path: a connection opted in to background updates, its due message, and the
states a start leaves behind."""

from __future__ import annotations

from datetime import timedelta

from bankupdate.contract import DueConnection
from bankupdate.domain import lifecycle
from bankupdate.domain.scheduling import scheduled_update_id
from bankupdate.usecases.start_scheduled_update import ScheduledStart
from tests.usecases.system import BankUser, System


def opted_in(system: System, **connection_options: object) -> BankUser:
    """A user whose connection is recorded (admin sync) and opted in to background updates: due now."""
    user = system.new_user(**connection_options)
    system.use_cases.sync_connections()(owner_id=user.owner_id)
    system.use_cases.set_schedule()(owner_id=user.owner_id, connection_id=user.connection, enabled=True)
    return user


def due_now(system: System) -> list[DueConnection]:
    """What the scheduler queues now, taken off the queue at once (a test hands each to start_scheduled, or drops it:
    what is left in the queue would count against the next run's window)."""
    before = len(system.due_queue.sent)
    system.use_cases.schedule_updates()()
    sent = system.due_queue.sent[before:]
    system.due_queue.handled = len(system.due_queue.sent)
    assert all(isinstance(m, DueConnection) for m in sent)
    return [DueConnection.model_validate(m.model_dump()) for m in sent]


def due_of(system: System, user: BankUser) -> DueConnection:
    """The due message the scheduler queues now for the user's connection."""
    (due,) = [d for d in due_now(system) if d.connection_id == user.connection]
    return due


def slot_update(due: DueConnection) -> str:
    """The id of the one update of a slot."""
    return scheduled_update_id(due.owner_id, due.connection_id, due.slot)


def started_unattended(system: System, user: BankUser) -> str:
    """The connection's scheduled update, started by its due message (lock, budget, finAPI, workflow), not yet
    polled."""
    due = due_of(system, user)
    assert system.start_scheduled(due) is ScheduledStart.STARTED
    return slot_update(due)


def recorded_by_a_start_that_died(system: System, due: DueConnection) -> str:
    """What a delivery leaves when it dies after recording the slot's update and moving the schedule on, before it
    claimed the call to finAPI: a PENDING record, no lock, no budget spent, nothing sent, no workflow."""
    update_id = slot_update(due)
    record = lifecycle.new_unattended(
        update_id=update_id,
        owner_id=due.owner_id,
        connection_id=due.connection_id,
        integration=system.settings.integration,
        known_account_ids=(),
        execution_arn=system.workflow.execution_arn(update_id),
        now=system.clock.now(),
    )
    assert system.updates.create(record)
    now = system.clock.now()
    next_slot = now + timedelta(minutes=system.settings.schedule_interval_minutes)
    system.schedules.reschedule(due.owner_id, due.connection_id, next_due_at=next_slot, skip=None, now=now)
    return update_id
