"""``UpdateStore`` in memory, with the conditions ``stores/updates.py`` writes under (tests/contract holds both)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from bankupdate.domain.model import UpdateRecord
from bankupdate.ports import StaleUpdate, StoredUpdate


def _epoch(moment: datetime) -> int:
    return int(moment.timestamp())  # DynamoDB keeps the round's lease in whole seconds


@dataclass(frozen=True)
class _Item:
    record: UpdateRecord
    task_token: str | None = None
    answering_round: int | None = None
    answer_lease_until: int | None = None


class InMemoryUpdateStore:
    def __init__(self) -> None:
        self._items: dict[str, _Item] = {}
        self._callbacks: dict[str, tuple[str, datetime]] = {}
        self._lock = threading.Lock()

    def get(self, update_id: str) -> StoredUpdate | None:
        with self._lock:
            item = self._items.get(update_id)
        return None if item is None else StoredUpdate(item.record, item.task_token)

    def create(self, record: UpdateRecord) -> bool:
        with self._lock:
            if record.update_id in self._items:
                return False
            self._items[record.update_id] = _Item(record)
            return True

    def save(self, record: UpdateRecord, *, expected_version: int) -> UpdateRecord:
        saved = record.model_copy(update={"version": expected_version + 1})
        with self._lock:
            item = self._items.get(record.update_id)
            if item is None or item.record.version != expected_version:
                raise StaleUpdate(record.update_id)
            if saved.status.is_terminal:
                # Out of the open-update index; the workflow's token and an answer's claim are of no use any more.
                self._items[record.update_id] = _Item(saved)
            else:
                self._items[record.update_id] = replace(item, record=saved)
        return saved

    def park_task_token(self, update_id: str, token: str) -> bool:
        with self._lock:
            item = self._items.get(update_id)
            if item is None or item.record.status.is_terminal:
                return False
            self._items[update_id] = replace(item, task_token=token)
            return True

    def claim_round(self, update_id: str, *, auth_round: int, now: datetime, lease: timedelta) -> bool:
        with self._lock:
            item = self._items.get(update_id)
            if item is None or item.record.auth_round != auth_round:
                return False
            claimed = item.answering_round
            free = (
                claimed is None
                or claimed < auth_round
                or (item.answer_lease_until is not None and item.answer_lease_until < _epoch(now))
            )
            if not free:
                return False
            self._items[update_id] = replace(item, answering_round=auth_round, answer_lease_until=_epoch(now + lease))
            return True

    def release_round(self, update_id: str, *, auth_round: int) -> None:
        with self._lock:
            item = self._items.get(update_id)
            if item is not None and item.answering_round == auth_round:
                self._items[update_id] = replace(item, answering_round=None, answer_lease_until=None)

    def open_updates(self, *, created_before: datetime) -> Iterator[str]:
        with self._lock:
            found = sorted(
                (item.record.created_at, update_id)
                for update_id, item in self._items.items()
                if not item.record.status.is_terminal and item.record.created_at < created_before
            )
        yield from (update_id for _, update_id in found)

    def link_callback(self, token_digest: str, update_id: str, *, expires_at: datetime) -> None:
        with self._lock:
            self._callbacks[token_digest] = (update_id, expires_at)

    def find_by_callback(self, token_digest: str) -> str | None:
        # Like the table, whose TTL removes expired links some time later: expiry is not checked on reading.
        with self._lock:
            found = self._callbacks.get(token_digest)
        return found[0] if found else None

    # ------------------------------------------------------------------------------------------ for tests

    def claimed_round(self, update_id: str) -> int | None:
        with self._lock:
            item = self._items.get(update_id)
        return item.answering_round if item else None

    def all(self) -> list[UpdateRecord]:
        with self._lock:
            return [item.record for item in self._items.values()]
