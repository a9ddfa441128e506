"""Updates whose workflow is missing or ended without finishing them, brought to an end.

Two ways in: on contact (a trigger finds the connection locked by such an update) and periodically (the stale-lock
reconciler). Starting the workflow is enough for an update that never got one: its first poll takes the update on
from wherever its record stands. An update whose workflow ended without finishing it is finished as stalled.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from bankupdate.contract import WorkflowInput
from bankupdate.domain.errors import UpdateStalled
from bankupdate.observability import logger
from bankupdate.ports import Clock, ConnectionStore, ExecutionState, StoredUpdate, UpdateStore, Workflow
from bankupdate.services.finalizer import Finalizer
from bankupdate.settings import Settings


def workflow_input(update_id: str, settings: Settings) -> WorkflowInput:
    return WorkflowInput(
        update_id=update_id,
        timeout_seconds=settings.update_timeout_seconds,
        heartbeat_seconds=settings.heartbeat_seconds,
        poll_heartbeat_seconds=settings.poll_heartbeat_seconds,
        await_user_seconds=settings.await_user_seconds,
        poll_cool_down_seconds=settings.poll_cool_down_seconds,
    )


@dataclass
class Recovery:
    updates: UpdateStore
    connections: ConnectionStore
    workflow: Workflow
    finalizer: Finalizer
    clock: Clock
    settings: Settings

    def recover_holder(self, owner_id: str, connection_id: int, holder: str | None) -> bool:
        """The update holding a connection's lock, if it is an orphan, is on its way to an end again (True)."""
        if holder is None:
            return False
        stored = self.updates.get(holder)
        if stored is None:
            # The lock was taken but the record never written: nothing was sent to finAPI.
            return self.connections.release(owner_id, connection_id, update_id=holder, outcome=None)
        record = stored.record
        if record.status.is_terminal:
            self.finalizer.finish(stored)  # its finish died before releasing the lock: redo the rest
            return True
        if self.clock.now() - record.updated_at < timedelta(seconds=self.settings.orphan_grace_seconds):
            return False  # its trigger may still be running
        return self._recover(holder, stored)

    def recover(self, update_id: str) -> bool:
        """An open update without a running workflow: start one, or finish the update if its workflow ended."""
        return self._recover(update_id, self.updates.get(update_id))

    def _recover(self, update_id: str, stored: StoredUpdate | None) -> bool:
        # No task of a workflow ever reached it (a trigger whose start was throttled, D33, or that died: a task parks
        # its token on the record first): start it by name without DescribeExecution first, which allows 10 calls a
        # second in most Regions where a rush may leave thousands of these. A start that finds an ended execution of
        # that name falls through to the check below.
        untouched = stored is not None and stored.task_token is None and not stored.record.status.is_terminal
        if untouched and self.workflow.start(workflow_input(update_id, self.settings)):
            logger.warning("started the workflow of an update no workflow had reached", extra={"update_id": update_id})
            return True
        state = self.workflow.state(update_id)
        if state is ExecutionState.RUNNING:
            return False
        if state is ExecutionState.MISSING:
            logger.warning("starting the workflow of an orphaned update", extra={"update_id": update_id})
            self.workflow.start(workflow_input(update_id, self.settings))
            return True
        logger.warning("finishing an update whose workflow ended without it", extra={"update_id": update_id})
        self.finalizer.fail(
            update_id, UpdateStalled("the update's workflow ended without finishing it").to_update_error()
        )
        return True
