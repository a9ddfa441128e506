"""Recovery of updates whose handler died half-way (after finAPI accepted, before the workflow started).

Found on contact: a trigger that finds the connection locked looks at the update holding the lock. If it is old
enough that its own trigger cannot still be running, and it has no workflow, the workflow is started where the
record says it stands; the poll loop then finds out what finAPI really did, and Finalize releases the lock.
"""

from __future__ import annotations

from datetime import timedelta

from bankupdate.domain.model import UpdateStatus
from bankupdate.domain.steps import NextStep, StepOutput
from bankupdate.observability import logger
from bankupdate.usecases import finalize_update
from bankupdate.usecases.progress import first_poll, record_unconfirmed_start, workflow_input
from bankupdate.usecases.services import Services


def recover_if_orphaned(services: Services, owner_id: str, connection_id: int, holder: str) -> bool:
    """True if the holder was an orphan and is on its way to a terminal state again."""
    stored = services.updates.get(holder)
    now = services.clock()
    if stored is None:
        # The lock was taken but the record never written: nothing was sent to finAPI yet.
        return services.connections.release_lock(owner_id, connection_id, update_id=holder)
    record = stored.record
    if now - record.updated_at < timedelta(seconds=services.settings.orphan_grace_seconds):
        return False  # its trigger may still be running
    if record.status.is_terminal:
        finalize_update.complete(services, holder)  # Finalize died before releasing: redo its consequences
        return True
    if services.workflow.exists(holder):
        return False
    if record.status is UpdateStatus.AUTHENTICATION_REQUIRED:
        step = StepOutput(next=NextStep.AWAIT_USER)
    elif record.status is UpdateStatus.PENDING and record.finapi_called_at is not None:
        record, step = record_unconfirmed_start(services, record)
    elif record.status is UpdateStatus.PENDING:
        step = StepOutput(next=NextStep.START if record.mode.value == "UNATTENDED" else NextStep.FINALIZE)
    else:
        step = first_poll()
    logger.warning("recovering an orphaned update", extra={"update_id": holder, "status": record.status.value})
    services.workflow.start(holder, workflow_input(services, holder, step))
    return True
