"""``ChangeLog`` in memory: the state and the entries of each connection, written together or not at all."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from datetime import datetime

from bankupdate.domain.transactions import ChangeEntry, ScanState
from bankupdate.ports import StaleChanges


class InMemoryChangeLog:
    def __init__(self) -> None:
        self._states: dict[tuple[str, int], ScanState] = {}
        self._entries: dict[tuple[str, int], dict[int, ChangeEntry]] = {}
        self._positions: dict[tuple[str, int, str], int] = {}
        self._lock = threading.Lock()

    def state(self, owner_id: str, connection_id: int) -> ScanState | None:
        with self._lock:
            return self._states.get((owner_id, connection_id))

    def record(
        self,
        owner_id: str,
        connection_id: int,
        state: ScanState,
        entries: Sequence[ChangeEntry],
        *,
        expected: int,
        at: datetime,
    ) -> ScanState:
        key = (owner_id, connection_id)
        with self._lock:
            current = self._states.get(key)
            log = self._entries.setdefault(key, {})
            if (current.version if current else 0) != expected or any(e.seq in log for e in entries):
                raise StaleChanges(f"the change log of connection {connection_id} moved on")
            saved = state.model_copy(update={"version": expected + 1})
            self._states[key] = saved
            log.update({e.seq: e for e in entries})
            if state.last_update_id is not None:
                start = entries[0].seq - 1 if entries else state.head
                self._positions[(owner_id, connection_id, state.last_update_id)] = start
            return saved

    def entries_after(self, owner_id: str, connection_id: int, seq: int, *, limit: int) -> list[ChangeEntry]:
        with self._lock:
            log = self._entries.get((owner_id, connection_id), {})
            return [log[s] for s in sorted(log) if s > seq][:limit]

    def entry(self, owner_id: str, connection_id: int, seq: int) -> ChangeEntry | None:
        with self._lock:
            return self._entries.get((owner_id, connection_id), {}).get(seq)

    def position_of(self, owner_id: str, connection_id: int, update_id: str) -> int | None:
        with self._lock:
            return self._positions.get((owner_id, connection_id, update_id))

    def forget_entries_until(self, owner_id: str, connection_id: int, seq: int) -> None:
        """What the table's TTL does to entries older than the retention."""
        with self._lock:
            log = self._entries.get((owner_id, connection_id), {})
            for old in [s for s in log if s <= seq]:
                del log[old]
