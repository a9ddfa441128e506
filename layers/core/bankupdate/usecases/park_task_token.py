"""ParkTaskToken: the workflow waits on the update (for its user, or for finAPI's callback) with a task token; this
parks the token on the update, where whoever moves the update on finds it (the answer route, the Web Form callback,
whoever finishes the update). If the update moved on before the token could be parked, the wait ends at once.
"""

from __future__ import annotations

from dataclasses import dataclass

from bankupdate.contract import WaitingTask, WorkflowOutput
from bankupdate.domain.model import UpdateStatus
from bankupdate.observability import logger
from bankupdate.ports import UpdateStore, Workflow

# What the update stands at while each wait makes sense.
_WAITS_WHILE = {WaitingTask.USER: UpdateStatus.AUTHENTICATION_REQUIRED, WaitingTask.CALLBACK: UpdateStatus.IN_PROGRESS}


@dataclass
class ParkTaskToken:
    updates: UpdateStore
    workflow: Workflow

    def __call__(self, update_id: str, task_token: str, purpose: WaitingTask) -> None:
        stored = self.updates.get(update_id)
        if stored is None:
            self.workflow.release(task_token, WorkflowOutput(update_id=update_id, status=None))
            return
        status = _WAITS_WHILE.get(purpose)
        if status is None:
            raise ValueError(f"the workflow does not wait on a token for {purpose.value}")
        if stored.record.status is status and self.updates.park_task_token(
            update_id, task_token, kind=purpose, while_status=status
        ):
            return
        # Moved on (answered, finished, or running again) before the wait began: the workflow polls right away.
        logger.info("the update moved on before its wait began", extra={"status": stored.record.status.value})
        self.workflow.resume(task_token, update_id)
