import math
from typing import Any

import pytest

from bankupdate.domain.backoff import PollSchedule, WaitCost, WaitPlan, plan_wait

SCHEDULE = PollSchedule(lag_ratio=0.12, min_gap_seconds=0.5, max_gap_seconds=300)


def looks_until(schedule: PollSchedule, duration: float) -> list[float]:
    """Moments of the looks at finAPI, up to the first one at or after ``duration``."""
    moments = [0.0]
    while moments[-1] < duration:
        moments.append(moments[-1] + schedule.gap_after(moments[-1]))
    return moments


def test_gap_grows_with_the_time_the_update_has_run() -> None:
    # Given the default schedule
    # When gaps are planned at growing elapsed times
    gaps = [SCHEDULE.gap_after(t) for t in (0, 2, 10, 60, 600, 3600)]
    # Then they start at the minimum, never shrink and stop at the maximum
    assert gaps[0] == 0.5
    assert gaps == sorted(gaps)
    assert gaps[3] == pytest.approx(7.2)
    assert gaps[-1] == 300


@pytest.mark.parametrize("duration", [0.3, 1, 5, 17.5, 60, 333, 600, 1800])
def test_a_finished_download_is_noticed_within_the_lag_ratio(duration: float) -> None:
    # Given a download that ends after `duration` seconds
    # When the loop looks at the schedule's moments
    moments = looks_until(SCHEDULE, duration)
    # Then the first look after the end comes within 12 % of the duration (or the minimum gap)
    assert moments[-1] - duration <= max(0.12 * duration, 0.5) + 1e-9


def test_break_even_gap_follows_memory_size() -> None:
    # Given list prices: 3 transitions + one request against arm64 GB-seconds
    # When the break-even gap is computed for two memory sizes
    small, large = WaitCost(128).break_even_gap_seconds(), WaitCost(512).break_even_gap_seconds()
    # Then at 128 MB sleeping costs as much as a timer look (three SQS requests, one invocation) after ~0.84 s,
    # and 4x the memory quarters it
    assert small == pytest.approx((3 * 0.0000004 + 0.0000002) / (0.125 * 0.0000133334))
    assert math.isclose(small / large, 4)
    assert 0.8 < small < 0.9


def plan(elapsed: float, *, deadline: float = 900, inline: float = 1.0, left: float = 800, longest: float = 300) -> Any:
    return plan_wait(
        SCHEDULE,
        elapsed_seconds=elapsed,
        until_deadline_seconds=deadline,
        inline_max_gap_seconds=inline,
        invocation_seconds_left=left,
        longest_gap_seconds=longest,
    )


def test_short_gaps_are_slept_inline_long_ones_on_the_timer() -> None:
    # Given a 1 s break-even, then a 0.6 s gap (5 s in) is slept, a 12 s gap (100 s in) goes on the timer
    assert plan(5).inline
    assert not plan(100).inline


def test_the_invocation_hands_back_before_its_timeout() -> None:
    # Given a short gap the invocation has no time left for
    decision = plan(5, left=0.1)
    # Then it goes on the timer, rounded up to whole seconds
    assert not decision.inline
    assert decision.timer_delay_seconds == 1


def test_the_last_gap_ends_at_the_deadline() -> None:
    # Given a deadline 3 s away and a schedule that would wait 60 s, then the next look is at the deadline
    assert plan(500, deadline=3).gap_seconds == 3


def test_no_gap_is_longer_than_the_workflow_waits_for_a_sign_of_life() -> None:
    # Given a workflow that gives up after 90 s of silence (each look may send a heartbeat), then no gap exceeds 30 s
    assert plan(1000, longest=30).gap_seconds == 30


def test_the_gap_counts_from_the_start_of_the_last_look() -> None:
    # Given a look that itself took 0.2 s, 5 s into a download (a 0.6 s gap)
    decision = plan_wait(
        SCHEDULE,
        elapsed_seconds=5,
        until_deadline_seconds=900,
        inline_max_gap_seconds=1.0,
        invocation_seconds_left=800,
        longest_gap_seconds=300,
        since_look_seconds=0.2,
    )
    # Then only the rest of the gap is slept: the looks stay 12 % of the elapsed time apart
    assert decision.inline and decision.sleep_seconds == pytest.approx(0.4)
    # And a look that took longer than the gap is followed by the next one at once
    assert WaitPlan(gap_seconds=0.6, inline=True, waited_seconds=0.9).sleep_seconds == 0
    # And on the timer, the delay is what remains, in whole seconds
    assert WaitPlan(gap_seconds=10, inline=False, waited_seconds=2.5).timer_delay_seconds == 8


def test_timer_delays_stay_within_what_sqs_can_delay() -> None:
    assert WaitPlan(gap_seconds=5000, inline=False).timer_delay_seconds == 900


def test_inline_limit_zero_sends_every_gap_to_the_timer() -> None:
    # Given an operator who set POLL_INLINE_MAX_GAP_SECONDS=0, then even the shortest gap goes on the timer
    decision = plan(0, inline=0)
    assert not decision.inline
    assert decision.timer_delay_seconds == 1


def test_inconsistent_schedule_is_refused() -> None:
    # Given a minimum gap above the maximum, then the schedule is refused where it is built
    with pytest.raises(ValueError, match="min_gap"):
        PollSchedule(lag_ratio=0.1, min_gap_seconds=10, max_gap_seconds=5)
