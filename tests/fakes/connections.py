"""``ConnectionStore`` and ``ScheduleStore`` in memory, over one set of connection records as in the table (where
both adapters write the same items). The conditions are those of ``stores/connections.py``: lock leases compared in
whole seconds, the rate window counted in the locking write, the due index holding every connection with a due slot."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime

from bankupdate.domain.budget import UnattendedBudget
from bankupdate.domain.model import ConnectionHealth, ConnectionRecord, ScheduleState, SkipReason
from bankupdate.domain.trigger_rate import TriggerRate
from bankupdate.domain.upstream import ConnectionFacts
from bankupdate.ports import ConnectionOutcome, LockAttempt, LockRefusal

Key = tuple[str, int]


def _epoch(moment: datetime) -> int:
    return int(moment.timestamp())


class ConnectionItems:
    """The connection records both stores work on, behind one lock (DynamoDB applies each write atomically)."""

    def __init__(self) -> None:
        self.records: dict[Key, ConnectionRecord] = {}
        self.lock = threading.RLock()

    def put(self, record: ConnectionRecord) -> None:
        """Seed a record as a test's Given (what an earlier write would have left)."""
        with self.lock:
            self.records[(record.owner_id, record.connection_id)] = record


class InMemoryConnectionStore:
    def __init__(self, items: ConnectionItems) -> None:
        self._items = items

    def get(self, owner_id: str, connection_id: int) -> ConnectionRecord | None:
        with self._items.lock:
            return self._items.records.get((owner_id, connection_id))

    def acquire_lock(
        self,
        owner_id: str,
        connection_id: int,
        *,
        update_id: str,
        now: datetime,
        lease_until: datetime,
        create: ConnectionRecord | None = None,
        rate: TriggerRate | None = None,
    ) -> LockAttempt:
        key = (owner_id, connection_id)
        with self._items.lock:
            found = self._items.records.get(key)
            if found is None and create is None:
                return LockAttempt(LockRefusal.MISSING, None, None)
            if found is not None:
                lease_epoch = _epoch(found.lock_expires_at) if found.lock_expires_at else 0
                held = found.active_update_id is not None and lease_epoch >= _epoch(now)
                if held:
                    return LockAttempt(LockRefusal.HELD, found.active_update_id, found)
                if rate is not None and not rate.admits(found.user_triggers, now):
                    return LockAttempt(LockRefusal.RATE, found.active_update_id, found)
            base = found
            if base is None:
                assert create is not None
                # The rate's log is the locking write's own, never the caller's.
                base = create.model_copy(update={"user_triggers": ()})
            changes: dict[str, object] = {"active_update_id": update_id, "lock_expires_at": lease_until}
            if rate is not None:
                changes["user_triggers"] = rate.logged(base.user_triggers, now)
            locked = base.model_copy(update=changes)
            self._items.records[key] = locked
            return LockAttempt(None, None, locked)

    def release(self, owner_id: str, connection_id: int, *, update_id: str, outcome: ConnectionOutcome | None) -> bool:
        key = (owner_id, connection_id)
        with self._items.lock:
            found = self._items.records.get(key)
            if found is None or found.active_update_id != update_id:
                return False
            changes: dict[str, object] = {"active_update_id": None, "lock_expires_at": None}
            if outcome is not None:
                changes["health"] = outcome.health
                if outcome.reschedule and found.schedule.enabled:
                    changes["schedule"] = found.schedule.model_copy(
                        update={
                            "next_due_at": outcome.next_due_at,
                            "last_skip_reason": outcome.skip,
                            "last_skip_at": outcome.health.last_attempt_at if outcome.skip else None,
                        }
                    )
            self._items.records[key] = found.model_copy(update=changes)
            return True

    def record_facts(self, owner_id: str, facts: ConnectionFacts, now: datetime) -> None:
        key = (owner_id, facts.connection_id)
        with self._items.lock:
            found = self._items.records.get(key)
            if found is None:
                self._items.records[key] = ConnectionRecord(
                    owner_id=owner_id,
                    connection_id=facts.connection_id,
                    created_at=now,
                    health=ConnectionHealth(
                        consent_expires_at=facts.consent_expires_at,
                        user_action_required=facts.user_action_required,
                        known_account_ids=facts.account_ids,
                    ),
                )
                return
            health: dict[str, object] = {"user_action_required": facts.user_action_required}
            if facts.consent_expires_at is not None:
                health["consent_expires_at"] = facts.consent_expires_at
            self._items.records[key] = found.model_copy(update={"health": found.health.model_copy(update=health)})


class InMemoryScheduleStore:
    def __init__(self, items: ConnectionItems) -> None:
        self._items = items
        self.refuse_budget: Exception | None = None  # what the budget's take raises (DynamoDB refusing it), if anything

    def _change_schedule(self, key: Key, **changes: object) -> None:
        found = self._items.records[key]
        schedule: ScheduleState = found.schedule.model_copy(update=changes)
        self._items.records[key] = found.model_copy(update={"schedule": schedule})

    def set_schedule(self, owner_id: str, connection_id: int, *, enabled: bool, next_due_at: datetime | None) -> None:
        key = (owner_id, connection_id)
        with self._items.lock:
            if key not in self._items.records:
                raise KeyError(f"no connection {key}: the table refuses the write (attribute_exists)")
            self._change_schedule(key, enabled=enabled, next_due_at=next_due_at if enabled else None)

    def reschedule(
        self, owner_id: str, connection_id: int, *, next_due_at: datetime | None, skip: SkipReason | None, now: datetime
    ) -> None:
        key = (owner_id, connection_id)
        with self._items.lock:
            found = self._items.records.get(key)
            if found is None or not found.schedule.enabled:
                return  # a connection opted out meanwhile must not re-enter the due index
            self._change_schedule(
                key, next_due_at=next_due_at, last_skip_reason=skip, last_skip_at=now if skip else None
            )

    def consume_unattended(self, owner_id: str, connection_id: int, *, budget: UnattendedBudget, now: datetime) -> bool:
        if self.refuse_budget is not None:
            raise self.refuse_budget
        key = (owner_id, connection_id)
        today, yesterday = budget.day_key(now), budget.previous_day_key(now)
        with self._items.lock:
            found = self._items.records.get(key)
            if found is None:
                return False
            used = found.unattended.get(today, 0)
            if used >= budget.usable_per_day:
                return False
            counts = {day: n for day, n in found.unattended.items() if day != yesterday}
            counts[today] = used + 1
            self._items.records[key] = found.model_copy(update={"unattended": counts})
            return True

    def mark_consent_warned(self, owner_id: str, connection_id: int, expires_at: datetime) -> bool:
        key = (owner_id, connection_id)
        with self._items.lock:
            found = self._items.records.get(key)
            if found is None:
                return False
            warned = found.schedule.consent_warning_for
            # The table compares the stored ISO text: the same instant written in another offset counts as new.
            if warned is not None and warned.isoformat() == expires_at.isoformat():
                return False
            self._change_schedule(key, consent_warning_for=expires_at)
            return True

    def due(self, *, now: datetime) -> Iterator[tuple[str, int, datetime]]:
        with self._items.lock:
            found = [
                (record.schedule.next_due_at.astimezone(UTC), owner_id, connection_id)
                for (owner_id, connection_id), record in self._items.records.items()
                if record.schedule.next_due_at is not None and record.schedule.next_due_at <= now
            ]
        # The index keeps the slot in UTC: the slot is what a scheduled update's id is made of.
        yield from ((owner_id, connection_id, slot) for slot, owner_id, connection_id in sorted(found))

    def list_for_owner(self, owner_id: str) -> list[ConnectionRecord]:
        with self._items.lock:
            return [
                record
                for (owner, _), record in sorted(self._items.records.items(), key=lambda kv: str(kv[0][1]))
                if owner == owner_id
            ]
