"""When the poll loop looks at finAPI next, and where it waits until then.

Two things cost money while a download runs: Step Functions transitions (each trip around the wait loop is three:
Wait, PollUpdateStatus, AfterPoll) and Lambda time. A finAPI download takes seconds to minutes and nobody can say
which in advance, so the gap between two looks grows with the time the update has run: a download that ends is
noticed within ``lag_ratio`` of its duration, whatever that duration is. Short gaps are slept inside the poll
invocation, long ones in a Wait state — whichever is cheaper for that gap (``WaitCost``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

# Public AWS list prices (eu-central-1, 2026): Standard workflow transition, arm64 Lambda GB-second and request.
TRANSITION_USD = 0.000025
LAMBDA_ARM_GB_SECOND_USD = 0.0000133334
LAMBDA_REQUEST_USD = 0.0000002
TRANSITIONS_PER_LOOP = 3


@dataclass(frozen=True)
class PollSchedule:
    """The gap before the next look, from how long the update has been running."""

    lag_ratio: float = 0.12
    min_gap_seconds: float = 0.5
    max_gap_seconds: float = 300.0

    def __post_init__(self) -> None:
        if self.lag_ratio < 0 or self.min_gap_seconds <= 0 or self.max_gap_seconds < self.min_gap_seconds:
            raise ValueError("need lag_ratio >= 0 and 0 < min_gap_seconds <= max_gap_seconds")

    def gap_after(self, elapsed_seconds: float) -> float:
        """Seconds until the next look when the update has run ``elapsed_seconds`` and is not finished yet."""
        return min(self.max_gap_seconds, max(self.min_gap_seconds, self.lag_ratio * max(0.0, elapsed_seconds)))


@dataclass(frozen=True)
class WaitCost:
    """Sleeping in the poll invocation costs Lambda GB-seconds; a trip around the wait loop costs transitions and
    one more invocation. The break-even gap is where the two are equal: shorter gaps are cheaper slept inline."""

    memory_mb: int
    transition_usd: float = TRANSITION_USD
    gb_second_usd: float = LAMBDA_ARM_GB_SECOND_USD
    request_usd: float = LAMBDA_REQUEST_USD
    transitions_per_loop: int = TRANSITIONS_PER_LOOP

    def break_even_gap_seconds(self) -> float:
        loop = self.transitions_per_loop * self.transition_usd + self.request_usd
        return loop / (self.memory_mb / 1024 * self.gb_second_usd)


@dataclass(frozen=True)
class WaitPlan:
    gap_seconds: float
    inline: bool

    @property
    def state_wait_seconds(self) -> int:
        """A Wait state takes whole seconds; rounding up never looks before the planned moment."""
        return max(1, math.ceil(self.gap_seconds))


def plan_wait(
    schedule: PollSchedule,
    *,
    elapsed_seconds: float,
    until_deadline_seconds: float,
    inline_max_gap_seconds: float,
    invocation_seconds_left: float,
) -> WaitPlan:
    """The next gap (never past the deadline, so a timeout is noticed on time) and whether to sleep it inline.

    Inline only when the gap is below the break-even and the invocation has time for it and one more look.
    """
    gap = min(schedule.gap_after(elapsed_seconds), max(until_deadline_seconds, schedule.min_gap_seconds))
    inline = gap <= inline_max_gap_seconds and gap < invocation_seconds_left
    return WaitPlan(gap_seconds=gap, inline=inline)
