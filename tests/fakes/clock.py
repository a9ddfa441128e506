"""A clock that moves only when told: ``sleep`` advances it instead of waiting, so a use case's waits cost nothing."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from bankupdate.ports import Clock


class ManualClock:
    """``now``, ``monotonic`` and ``sleep`` advance together. ``on_advance`` listeners move other clocks along (the
    finAPI sandbox's, so a download there takes the same virtual time as here)."""

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("the manual clock needs an aware start time")
        self._now = start.astimezone(UTC)
        self._monotonic = 1000.0
        self._lock = threading.Lock()
        self.sleeps: list[float] = []  # every sleep asked for, in order (inline poll gaps, lock patience ...)
        self.on_advance: list[Callable[[float], None]] = []

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def monotonic(self) -> float:
        with self._lock:
            return self._monotonic

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.advance(seconds)

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("time does not go back")
        with self._lock:
            self._now += timedelta(seconds=seconds)
            self._monotonic += seconds
        for listener in self.on_advance:
            listener(seconds)

    def advance_to(self, moment: datetime) -> None:
        """Move forward to ``moment`` (never back: a moment already past leaves the clock where it is)."""
        gap = (moment - self.now()).total_seconds()
        if gap > 0:
            self.advance(gap)

    @property
    def port(self) -> Clock:
        return Clock(now=self.now, sleep=self.sleep, monotonic=self.monotonic)
