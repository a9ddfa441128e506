"""Web Form 2.0 callbacks: finAPI says "look again" (``finalised``, ``webFormRequired``).

finAPI does not sign callbacks, so nothing in the body is believed: the per-update token in the URL only says which
update to look at, and the look itself asks finAPI. The answer is immediate (the look runs on the look timer) and
repeating a callback is harmless; an unknown token is a 404 with no side effect.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from bankupdate.domain.errors import NotFound
from bankupdate.flow.progress import look_message
from bankupdate.ports import Clock, LookTimer, UpdateStore


@dataclass
class HandleWebFormCallback:
    updates: UpdateStore
    timer: LookTimer
    clock: Clock

    def __call__(self, token: str) -> None:
        update_id = self.updates.find_by_callback(hashlib.sha256(token.encode()).hexdigest())
        stored = self.updates.get(update_id) if update_id else None
        if stored is None:
            raise NotFound("no update waits for this callback")
        record = stored.record
        if record.status.is_terminal or record.upstream_ref is None:
            return
        # A one-off look: the fallback chain of looks goes on by itself, so this one never schedules another.
        self.timer.schedule(look_message(record, alive_at=self.clock.now(), chain=False), 0)
