"""When the next poll at finAPI comes, and where the update waits until then (decision D26).

A finAPI download takes seconds to minutes and nobody can say which in advance, so the gap between two polls grows
with the time the update has run: a download that ends is noticed within ``lag_ratio`` of its duration, whatever that
duration is. Every poll is a state of a Step Functions execution and every gap a Wait state. The gaps of the first
minutes are waited in an Express poll loop, which bills its duration (at 64 MB) rather than its transitions; a gap
longer than the break-even (``LoopCost``) is waited in the Standard update workflow instead, which bills a hand-over
(a few transitions and a new loop) whatever the gap's length. An Express execution runs at most five minutes: a loop
that would outlive that hands on to a fresh loop first.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum

from bankupdate.domain.prices import (
    EXPRESS_GB_SECOND_USD,
    EXPRESS_MIN_MEMORY_GB,
    EXPRESS_REQUEST_USD,
    STANDARD_TRANSITION_USD,
)

# finAPI asks for at most one read of an update per second; a Wait state counts whole seconds.
MIN_GAP_SECONDS = 1
# A poll Lambda refused past the loop's Retry: a fresh loop waits this long and polls again (the CoolDown state).
COOL_DOWN_SECONDS = 20


@dataclass(frozen=True)
class PollSchedule:
    """The gap before the next poll, from how long the update has been running."""

    lag_ratio: float = 0.12
    min_gap_seconds: float = 1.0
    max_gap_seconds: float = 300.0

    def __post_init__(self) -> None:
        if self.lag_ratio < 0 or self.min_gap_seconds <= 0 or self.max_gap_seconds < self.min_gap_seconds:
            raise ValueError("need lag_ratio >= 0 and 0 < min_gap_seconds <= max_gap_seconds")

    def gap_after(self, elapsed_seconds: float) -> float:
        """Seconds until the next poll when the update has run ``elapsed_seconds`` and is not finished yet."""
        return min(self.max_gap_seconds, max(self.min_gap_seconds, self.lag_ratio * max(0.0, elapsed_seconds)))


@dataclass(frozen=True)
class LoopCost:
    """What a second of the Express poll loop costs against handing the wait to the Standard workflow (the
    transitions of the hand-over and of the poll task that follows it, and the new loop's start)."""

    hand_over_transitions: int = 3  # read the gap, Wait, the next Poll task
    express_memory_gb: float = EXPRESS_MIN_MEMORY_GB
    express_gb_second_usd: float = EXPRESS_GB_SECOND_USD
    express_request_usd: float = EXPRESS_REQUEST_USD
    transition_usd: float = STANDARD_TRANSITION_USD

    def express_usd_per_second(self) -> float:
        return self.express_memory_gb * self.express_gb_second_usd

    def hand_over_usd(self) -> float:
        return self.hand_over_transitions * self.transition_usd + self.express_request_usd

    def break_even_gap_seconds(self) -> float:
        return self.hand_over_usd() / self.express_usd_per_second()


@dataclass(frozen=True)
class LoopLimits:
    """The bounds of one Express poll loop: AWS ends an Express execution after ``max_seconds``; the loop must hand
    on before a Wait and one more poll (``poll_reserve_seconds``: its Lambda timeout, retries included) could pass
    that."""

    max_seconds: float
    poll_reserve_seconds: float


class NextStep(StrEnum):
    POLL = "POLL"  # Wait the gap in this loop, then poll
    CONTINUE = "CONTINUE"  # a fresh loop waits the gap and polls (this one is near its time limit)
    WAIT_LONGER = "WAIT_LONGER"  # the Standard workflow waits the gap (Wait state), then starts a fresh loop
    AWAIT_CALLBACK = (
        "AWAIT_CALLBACK"  # Web Form 2.0: the Standard workflow waits for finAPI's callback, the gap at most
    )


@dataclass(frozen=True)
class NextPoll:
    step: NextStep
    wait_seconds: int  # the Wait state's duration (whole seconds)


def plan_next_poll(
    schedule: PollSchedule,
    *,
    elapsed_seconds: float,
    until_deadline_seconds: float,
    since_poll_seconds: float,
    loop_age_seconds: float,
    limits: LoopLimits,
    break_even_gap_seconds: float,
    callbacks: bool,
) -> NextPoll:
    """The next gap and where it is waited.

    The gap counts from the start of the last poll (``since_poll_seconds`` ago), so polls are ``lag_ratio`` of the
    elapsed time apart however long each one took; it never runs past the deadline (a timeout is noticed on time).
    Gaps beyond the break-even are waited by the Standard workflow (with finAPI's callbacks, on a task token whose
    timeout is the gap); the others in this loop, unless the loop would outlive its time limit."""
    gap = min(schedule.gap_after(elapsed_seconds), max(until_deadline_seconds, schedule.min_gap_seconds))
    wait = max(MIN_GAP_SECONDS, math.floor(gap - since_poll_seconds + 0.5))
    if gap > break_even_gap_seconds:
        return NextPoll(NextStep.AWAIT_CALLBACK if callbacks else NextStep.WAIT_LONGER, wait)
    if loop_age_seconds + wait + limits.poll_reserve_seconds > limits.max_seconds:
        return NextPoll(NextStep.CONTINUE, wait)
    return NextPoll(NextStep.POLL, wait)
