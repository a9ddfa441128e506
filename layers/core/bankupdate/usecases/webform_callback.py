"""Web Form 2.0 callbacks: finAPI says "poll again" (``finalised``, ``webFormRequired``).

finAPI does not sign callbacks, so nothing in the body is believed: the per-update token in the URL only says which
update to poll, and the poll itself asks finAPI. A callback may only bring the next poll forward: it ends the
workflow's wait for the user or for finAPI (a task token parked on the update), and the poll that follows is the
workflow's own, one second after the last at the soonest. While a poll loop runs its own short gaps, or once the wait
has ended, a callback changes nothing, so a flood of callbacks costs at most one extra poll per wait. An unknown token
is a 404 with no side effect.
"""

from __future__ import annotations

from dataclasses import dataclass

from bankupdate.contract import WaitingTask
from bankupdate.domain.errors import NotFound
from bankupdate.ports import UpdateStore, Workflow
from bankupdate.services.callbacks import callback_digest

_RESUMABLE = frozenset({WaitingTask.USER, WaitingTask.CALLBACK})


@dataclass
class HandleWebFormCallback:
    updates: UpdateStore
    workflow: Workflow

    def __call__(self, token: str) -> None:
        update_id = self.updates.find_by_callback(callback_digest(token))
        stored = self.updates.get(update_id) if update_id else None
        if stored is None:
            raise NotFound("no update waits for this callback")
        if stored.record.status.is_terminal or stored.task_token is None or stored.task_kind not in _RESUMABLE:
            return
        self.workflow.resume(stored.task_token, stored.record.update_id)
