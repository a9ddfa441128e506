"""``IdempotencyStore`` in memory, answering as Powertools idempotency does over the idempotency table: the fingerprint
is checked first, then a call still running is refused, a completed one replayed; an action that raises frees its
key; a record lives ``ttl_seconds`` on the manual clock."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from bankupdate.domain.errors import IdempotencyKeyReused, UpdateAlreadyRunning
from bankupdate.ports import IdempotentCall
from tests.fakes.clock import ManualClock


@dataclass
class _Record:
    fingerprint: str
    expires_at: datetime
    answer: dict[str, Any] | None = None  # None: still running


def _canonical(value: dict[str, Any]) -> str:
    return json.dumps(value, sort_keys=True, default=str)


class InMemoryIdempotencyStore:
    def __init__(self, clock: ManualClock, ttl_seconds: int = 3600) -> None:
        self._clock = clock
        self._ttl = timedelta(seconds=ttl_seconds)
        self._records: dict[str, _Record] = {}
        self._lock = threading.Lock()
        self.runs = 0  # how often an action really ran

    def run_once(self, call: IdempotentCall, action: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        key, fingerprint = _canonical(call.key), _canonical(call.fingerprint)
        with self._lock:
            now = self._clock.now()
            found = self._records.get(key)
            if found is not None and found.expires_at <= now:
                found = None
            if found is not None:
                if found.fingerprint != fingerprint:
                    raise IdempotencyKeyReused(
                        "this Idempotency-Key was used with other options; use a new key for a new request",
                        details={"idempotencyKey": call.key.get("key")},
                    )
                if found.answer is None:
                    raise UpdateAlreadyRunning(
                        "a request with this Idempotency-Key is still being processed",
                        details={"idempotencyKey": call.key.get("key"), "retryAfterSeconds": 2},
                    )
                return found.answer
            record = _Record(fingerprint, now + self._ttl)
            self._records[key] = record
            self.runs += 1
        try:
            answer = action()
        except Exception:
            with self._lock:
                self._records.pop(key, None)
            raise
        with self._lock:
            record.answer = answer
        return answer
