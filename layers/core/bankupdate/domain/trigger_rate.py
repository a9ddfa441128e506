"""How often a user may update one connection: a sliding window over the connection's last admissions (decision
D24). The rule is here; the write that applies it (one conditional write with the lock) is the connection store's."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class TriggerRate:
    """At most ``limit`` user-present updates of one connection in any ``window_seconds``: a sliding window, so no
    stretch of that length, wherever it starts, admits more (decision D24).

    What is kept is the log of the last ``limit`` admissions (epoch seconds, oldest first). A trigger is admitted iff
    fewer than ``limit`` are logged, or the oldest is a whole window before it. Admissions are logged rounded up and
    compared rounded down, so any ``limit + 1`` admissions are at least a window apart in real time, and the time a
    refused trigger is told to wait is exact: a whole number of seconds to when the oldest logged one leaves the
    window.
    """

    limit: int
    window_seconds: int

    @staticmethod
    def stamp(now: datetime) -> int:
        """An admission as logged."""
        return math.ceil(now.timestamp())

    def closed_at(self, now: datetime) -> int:
        """Admissions logged at or before this left the window that ends at ``now``."""
        return math.floor(now.timestamp()) - self.window_seconds

    def admits(self, log: Sequence[int], now: datetime) -> bool:
        return len(log) < self.limit or log[-self.limit] <= self.closed_at(now)

    def logged(self, log: Sequence[int], now: datetime) -> tuple[int, ...]:
        """The log after admitting a trigger at ``now``."""
        return (*log, self.stamp(now))[-self.limit :]

    def retry_after_seconds(self, log: Sequence[int], now: datetime) -> int:
        """How long a refused trigger waits until it would be admitted (whole seconds, at least one)."""
        admitted_at = log[-self.limit] + self.window_seconds
        return max(1, math.ceil(admitted_at - now.timestamp()))
