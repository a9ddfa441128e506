"""Finalize: reached only through the workflow's Catch, when the supervising task failed, timed out or heard nothing
for too long. The failure, read against where the update stood, becomes the update's error; then it finishes."""

from __future__ import annotations

from dataclasses import dataclass

from bankupdate.contract import CatchFailure, WorkflowOutput, error_from_failure
from bankupdate.domain.errors import UpdateStalled
from bankupdate.flow.finish import Completion
from bankupdate.observability import logger
from bankupdate.ports import UpdateStore


@dataclass
class FinalizeUpdate:
    updates: UpdateStore
    completion: Completion

    def __call__(self, update_id: str, failure: CatchFailure | None) -> WorkflowOutput:
        stored = self.updates.get(update_id)
        if stored is None:
            return WorkflowOutput(update_id=update_id, status=None)
        record = stored.record
        if record.status.is_terminal:
            finished = self.completion.finish(stored)  # repair whatever the first finish did not get to
        else:
            error = (
                error_from_failure(failure, record.status)
                if failure is not None
                else UpdateStalled("the workflow ended without an outcome")
            )
            logger.warning("the workflow gave up on the update", extra={"error_code": error.code})
            finished = self.completion.fail(update_id, error.to_update_error())
        return WorkflowOutput(update_id=update_id, status=finished.status)
