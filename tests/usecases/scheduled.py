"""Givens for the scheduled (unattended) path: a connection opted in to background updates and its due message."""

from __future__ import annotations

from bankupdate.contract import DueConnection
from tests.usecases.system import BankUser, System


def opted_in(system: System, **connection_options: object) -> BankUser:
    """A user whose connection is recorded (admin sync) and opted in to background updates: due now."""
    user = system.new_user(**connection_options)
    system.sync_connections()(owner_id=user.owner_id)
    system.set_schedule()(owner_id=user.owner_id, connection_id=user.connection, enabled=True)
    return user


def due_now(system: System) -> list[DueConnection]:
    """What the scheduler queues now."""
    before = len(system.due_queue.sent)
    system.schedule_due_connections()()
    sent = system.due_queue.sent[before:]
    assert all(isinstance(m, DueConnection) for m in sent)
    return [DueConnection.model_validate(m.model_dump()) for m in sent]


def started_unattended(system: System, user: BankUser) -> str:
    """The connection's scheduled update, recorded and its workflow started (not yet supervised)."""
    (due,) = [d for d in due_now(system) if d.connection_id == user.connection]
    system.start_scheduled(due)
    (record,) = [r for r in system.updates.all() if r.connection_id == user.connection and r.status.value == "PENDING"]
    return record.update_id
