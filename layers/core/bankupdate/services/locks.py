"""Taking a connection's lock, with patience for an update that has just finished.

Finishing writes the terminal status first and releases the lock a few writes later (so that a crash in between is
visible and repaired). A trigger arriving in between should wait for those writes, not answer 409.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from bankupdate.domain.model import ConnectionRecord
from bankupdate.domain.trigger_rate import TriggerRate
from bankupdate.ports import Clock, ConnectionStore, LockAttempt, LockRefusal, UpdateStore
from bankupdate.settings import Settings

FINISHING_PATIENCE_SECONDS = 2.0
_PAUSE_SECONDS = 0.05


@dataclass
class ConnectionLocks:
    connections: ConnectionStore
    updates: UpdateStore
    clock: Clock
    settings: Settings

    def take(
        self,
        owner_id: str,
        connection_id: int,
        update_id: str,
        *,
        create: ConnectionRecord | None = None,
        rate: TriggerRate | None = None,
    ) -> LockAttempt:
        deadline = self.clock.monotonic() + FINISHING_PATIENCE_SECONDS
        while True:
            now = self.clock.now()
            attempt = self.connections.acquire_lock(
                owner_id,
                connection_id,
                update_id=update_id,
                now=now,
                lease_until=now + timedelta(seconds=self.settings.lock_lease_seconds),
                create=create,
                rate=rate,
            )
            if attempt.refused is not LockRefusal.HELD or attempt.holder is None:
                return attempt
            stored = self.updates.get(attempt.holder)
            finishing = stored is not None and stored.record.status.is_terminal
            if not finishing or self.clock.monotonic() >= deadline:
                return attempt
            self.clock.sleep(_PAUSE_SECONDS)

    def release_unused(self, owner_id: str, connection_id: int, update_id: str) -> None:
        """Give back a lock whose update was never recorded (its record's write failed): nothing would end it."""
        self.connections.release(owner_id, connection_id, update_id=update_id, outcome=None)
