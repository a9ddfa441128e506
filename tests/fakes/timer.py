"""``LookTimer`` that holds each delayed look until the test delivers it, once the manual clock says it is due."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime, timedelta

from bankupdate.contract import LookMessage
from bankupdate.domain.backoff import SQS_MAX_DELAY_SECONDS
from tests.fakes.clock import ManualClock


@dataclass(frozen=True)
class HeldLook:
    due_at: datetime
    delay_seconds: int
    message: LookMessage


class HeldLookTimer:
    def __init__(self, clock: ManualClock) -> None:
        self._clock = clock
        self._held: list[HeldLook] = []
        self.scheduled: list[HeldLook] = []  # everything ever scheduled, in order
        self._lock = threading.Lock()

    def schedule(self, message: LookMessage, delay_seconds: int) -> None:
        delay = max(0, min(SQS_MAX_DELAY_SECONDS, delay_seconds))  # SQS's bounds, as the adapter clamps them
        held = HeldLook(self._clock.now() + timedelta(seconds=delay), delay, message)
        with self._lock:
            self._held.append(held)
            self.scheduled.append(held)

    @property
    def pending(self) -> list[HeldLook]:
        with self._lock:
            return sorted(self._held, key=lambda h: h.due_at)

    def take_due(self) -> list[LookMessage]:
        """The looks due by now, taken off the timer (SQS hands them to the look function)."""
        now = self._clock.now()
        with self._lock:
            due = sorted((h for h in self._held if h.due_at <= now), key=lambda h: h.due_at)
            self._held = [h for h in self._held if h.due_at > now]
        return [h.message for h in due]

    def advance_to_next(self) -> list[LookMessage]:
        """Move the clock to the next look's due time and take what is due then (nothing held: nothing moves)."""
        pending = self.pending
        if not pending:
            return []
        self._clock.advance_to(pending[0].due_at)
        return self.take_due()
