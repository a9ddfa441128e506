"""``UpdateStore`` in memory, with the conditions ``stores/updates.py`` writes under (tests/contract holds both)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from bankupdate.contract import WaitingTask
from bankupdate.domain.model import UpdateRecord, UpdateStatus
from bankupdate.ports import StaleUpdate, StoredUpdate


def _epoch(moment: datetime) -> int:
    return int(moment.timestamp())  # DynamoDB keeps the round's lease in whole seconds


@dataclass(frozen=True)
class _Item:
    record: UpdateRecord
    task_token: str | None = None
    task_kind: WaitingTask | None = None
    poll_since: str | None = None
    poll_loop: str | None = None
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
        return None if item is None else StoredUpdate(item.record, item.task_token, item.task_kind)

    def create(self, record: UpdateRecord) -> bool:
        with self._lock:
            if record.update_id in self._items:
                return False
            self._items[record.update_id] = _Item(record)
            return True

    def save(self, record: UpdateRecord, *, expected_version: int) -> StoredUpdate:
        saved = record.model_copy(update={"version": expected_version + 1})
        with self._lock:
            item = self._items.get(record.update_id)
            if item is None or item.record.version != expected_version:
                raise StaleUpdate(record.update_id)
            if saved.status.is_terminal:
                # Out of the open-update index; the workflow's token and an answer's claim are of no use any more.
                self._items[record.update_id] = _Item(saved, poll_since=item.poll_since, poll_loop=item.poll_loop)
            else:
                self._items[record.update_id] = replace(item, record=saved)
        return StoredUpdate(saved, item.task_token, item.task_kind)

    def park_task_token(self, update_id: str, token: str, *, kind: WaitingTask, while_status: UpdateStatus) -> bool:
        with self._lock:
            item = self._items.get(update_id)
            if item is None or item.record.status is not while_status:
                return False
            self._items[update_id] = replace(item, task_token=token, task_kind=kind)
            return True

    def claim_polls(
        self, update_id: str, *, loop_id: str, previous_loop_id: str | None, token: str, task_entered_at: str
    ) -> StoredUpdate | None:
        with self._lock:
            item = self._items.get(update_id)
            if item is None:
                return None
            again = item.poll_since == task_entered_at and item.poll_loop == loop_id
            if previous_loop_id is None:
                won = item.poll_since is None or item.poll_since < task_entered_at or again
            else:
                won = (item.poll_since == task_entered_at and item.poll_loop == previous_loop_id) or again
            if not won:
                return None
            claimed = replace(
                item, poll_since=task_entered_at, poll_loop=loop_id, task_token=token, task_kind=WaitingTask.POLL
            )
            self._items[update_id] = claimed
            return StoredUpdate(claimed.record, claimed.task_token, claimed.task_kind)

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
