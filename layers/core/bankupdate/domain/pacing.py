"""How fast the scheduled path drains: the operator's starts per second, kept by SQS's per-message delay.

A run of ScheduleUpdates queues at most one window's worth of due connections (``per_run``: the rate times the
window) and holds each back by its place in the run (``delay_of``), so they become visible to StartScheduledUpdate
at the chosen rate however many are due; the rest stay in the due index for the next run, which comes one window
later. The window is the scheduler's period, at most 900 s (SQS's longest delay). The drain rate is therefore
min(this rate, the start function's MaximumConcurrency / the time one start takes): docs/capacity.md.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

SQS_MAX_DELAY_SECONDS = 900
_RATE = re.compile(r"^rate\((\d+)\s+(minute|minutes|hour|hours|day|days)\)$")
_UNIT_SECONDS = {"minute": 60, "hour": 3600, "day": 86400}


def run_period_seconds(schedule_expression: str) -> int | None:
    """The period of an EventBridge Scheduler ``rate(...)`` expression; None for ``cron(...)``/``at(...)``."""
    found = _RATE.match(schedule_expression.strip())
    if found is None:
        return None
    return int(found.group(1)) * _UNIT_SECONDS[found.group(2).removesuffix("s")]


@dataclass(frozen=True)
class Pacing:
    starts_per_second: float
    window_seconds: int

    def __post_init__(self) -> None:
        if self.starts_per_second <= 0:
            raise ValueError("the scheduled path needs a positive rate")
        if not 1 <= self.window_seconds <= SQS_MAX_DELAY_SECONDS:
            raise ValueError(f"a pacing window is 1..{SQS_MAX_DELAY_SECONDS} s")

    @classmethod
    def of(cls, starts_per_second: float, schedule_expression: str) -> Pacing:
        """The window is the scheduler's period (a ``cron`` schedule is taken to run every 15 minutes)."""
        period = run_period_seconds(schedule_expression) or SQS_MAX_DELAY_SECONDS
        return cls(starts_per_second, min(period, SQS_MAX_DELAY_SECONDS))

    @property
    def per_run(self) -> int:
        """How many due connections one run queues: one window at the rate (at least one)."""
        return max(1, math.floor(self.starts_per_second * self.window_seconds))

    def delay_of(self, index: int) -> int:
        """Whole seconds the ``index``-th connection of a run waits before it is visible: at most ``rate`` a second
        (within any one second, never more than ``ceil(rate)``), and never past the window."""
        return min(self.window_seconds - 1, math.floor(index / self.starts_per_second))
