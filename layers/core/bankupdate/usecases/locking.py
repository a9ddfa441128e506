"""Taking a connection's lock, with patience for an update that has just finished.

Finalize writes the terminal status first and releases the lock last (so that a crash in between is visible and
repaired). Between the two lie a few writes; a trigger arriving then should wait for them, not answer 409.
"""

from __future__ import annotations

import time
from datetime import timedelta

from bankupdate.stores.records import LockAttempt
from bankupdate.usecases.services import Services

FINISHING_PATIENCE_SECONDS = 2.0


def take_lock(
    services: Services, owner_id: str, connection_id: int, update_id: str, *, create_missing: bool = False
) -> LockAttempt:
    """``holder`` is None when ``update_id`` holds the lock now; otherwise it names the update that holds it."""
    deadline = time.monotonic() + FINISHING_PATIENCE_SECONDS
    while True:
        now = services.clock()
        attempt = services.connections.acquire_lock(
            owner_id,
            connection_id,
            update_id=update_id,
            now=now,
            lease_until=now + timedelta(seconds=services.settings.lock_lease_seconds),
            create_missing=create_missing,
        )
        if attempt.holder is None:
            return attempt
        stored = services.updates.get(attempt.holder)
        finishing = stored is not None and stored.record.status.is_terminal
        if not finishing or time.monotonic() >= deadline:
            return attempt
        time.sleep(0.05)
