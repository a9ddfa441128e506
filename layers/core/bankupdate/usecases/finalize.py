"""Finalize: reached through a Catch, when a task of the update's workflow failed, timed out or heard nothing for too
long (the update workflow's Catch), or when a poll failed for good (the poll loop's Catch, which names the Poll task
to end). The failure, read against where the update stood, becomes the update's error; then it finishes."""

from __future__ import annotations

from dataclasses import dataclass

from bankupdate.contract import CatchFailure, WorkflowOutput, error_from_failure
from bankupdate.domain.errors import UpdateStalled
from bankupdate.observability import logger
from bankupdate.ports import StoredUpdate, UpdateStore, Workflow
from bankupdate.services.finalizer import Finalizer


@dataclass
class FinalizeUpdate:
    updates: UpdateStore
    workflow: Workflow
    finalizer: Finalizer

    def __call__(self, update_id: str, failure: CatchFailure | None, task_token: str | None = None) -> WorkflowOutput:
        stored = self.updates.get(update_id)
        if stored is None:
            output = WorkflowOutput(update_id=update_id, status=None)
            if task_token is not None:
                self.workflow.release(task_token, output)
            return output
        record = stored.record
        if record.status.is_terminal:
            # Repair whatever the first finish did not get to (and end the named task, if there is one).
            finished = self.finalizer.finish(StoredUpdate(record, task_token or stored.task_token))
        else:
            error = (
                error_from_failure(failure, record.status)
                if failure is not None
                else UpdateStalled("the workflow ended without an outcome")
            )
            logger.warning("the workflow gave up on the update", extra={"error_code": error.code})
            finished = self.finalizer.fail(update_id, error.to_update_error())
            if task_token is not None and task_token != stored.task_token:
                self.workflow.release(task_token, WorkflowOutput(update_id=update_id, status=finished.status))
        return WorkflowOutput(update_id=update_id, status=finished.status)
