"""When the next look at finAPI comes, and where the update waits until then.

A finAPI download takes seconds to minutes and nobody can say which in advance, so the gap between two looks grows
with the time the update has run: a download that ends is noticed within ``lag_ratio`` of its duration, whatever that
duration is. Each gap is waited where it is cheaper (``WaitCost``): slept inside the worker's invocation (Lambda
GB-seconds) or parked on the look timer (an SQS message delayed by the gap, then a fresh invocation). Step Functions
transitions are not spent on waiting at all: the workflow holds one task per update (decision D19).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

# Public AWS list prices (eu-central-1, 2026): Standard workflow transition, arm64 Lambda GB-second and request,
# SQS standard request (a timer look sends, receives and deletes one message).
TRANSITION_USD = 0.000025
LAMBDA_ARM_GB_SECOND_USD = 0.0000133334
LAMBDA_REQUEST_USD = 0.0000002
SQS_REQUEST_USD = 0.0000004
SQS_REQUESTS_PER_TIMER_LOOK = 3
SQS_MAX_DELAY_SECONDS = 900


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
    """Sleeping in the worker costs GB-seconds; a timer look costs three SQS requests and one invocation (the
    look's own work is billed either way). The break-even gap is where the two are equal: shorter gaps are cheaper
    slept inline."""

    memory_mb: int
    gb_second_usd: float = LAMBDA_ARM_GB_SECOND_USD
    request_usd: float = LAMBDA_REQUEST_USD
    sqs_request_usd: float = SQS_REQUEST_USD

    def timer_look_usd(self) -> float:
        return SQS_REQUESTS_PER_TIMER_LOOK * self.sqs_request_usd + self.request_usd

    def inline_usd_per_second(self) -> float:
        return self.memory_mb / 1024 * self.gb_second_usd

    def break_even_gap_seconds(self) -> float:
        return self.timer_look_usd() / self.inline_usd_per_second()


@dataclass(frozen=True)
class WaitPlan:
    gap_seconds: float
    inline: bool
    # The gap runs from the start of the last look: what that look itself took is already waited.
    waited_seconds: float = 0.0

    @property
    def sleep_seconds(self) -> float:
        return max(0.0, self.gap_seconds - self.waited_seconds)

    @property
    def timer_delay_seconds(self) -> int:
        """SQS delays are whole seconds (at most 15 minutes); rounding up never looks before the planned moment."""
        return min(SQS_MAX_DELAY_SECONDS, max(1, math.ceil(self.sleep_seconds)))


def plan_wait(
    schedule: PollSchedule,
    *,
    elapsed_seconds: float,
    until_deadline_seconds: float,
    inline_max_gap_seconds: float,
    invocation_seconds_left: float,
    longest_gap_seconds: float,
    since_look_seconds: float = 0.0,
) -> WaitPlan:
    """The next gap (never past the deadline, so a timeout is noticed on time, and never longer than the workflow
    may go without a sign of life) and whether to sleep it inline: only when it is below the break-even and the
    invocation has time for it and one more look. The gap counts from the start of the last look
    (``since_look_seconds`` ago): looks are ``lag_ratio`` of the elapsed time apart, however long each one took."""
    gap = min(
        schedule.gap_after(elapsed_seconds),
        max(until_deadline_seconds, schedule.min_gap_seconds),
        longest_gap_seconds,
    )
    inline = gap <= inline_max_gap_seconds and gap < invocation_seconds_left
    return WaitPlan(gap_seconds=gap, inline=inline, waited_seconds=max(0.0, since_look_seconds))
