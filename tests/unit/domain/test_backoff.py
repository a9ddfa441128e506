import math

import pytest

from bankupdate.domain.backoff import PollSchedule, WaitCost, plan_wait

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
    # Then sleeping 45 s at 128 MB costs what one more loop costs, and 4x the memory quarters it
    assert small == pytest.approx((3 * 0.000025 + 0.0000002) / (0.125 * 0.0000133334))
    assert math.isclose(small / large, 4)
    assert 44 < small < 46


def test_short_gaps_are_slept_inline_long_ones_in_the_wait_state() -> None:
    # Given a 45 s break-even and plenty of invocation time
    def plan(elapsed: float) -> bool:
        return plan_wait(
            SCHEDULE,
            elapsed_seconds=elapsed,
            until_deadline_seconds=900,
            inline_max_gap_seconds=45,
            invocation_seconds_left=800,
        ).inline

    # Then a gap of 12 s (100 s in) is slept inline, a gap of 60 s (500 s in) goes back to the state machine
    assert plan(100)
    assert not plan(500)


def test_the_invocation_hands_back_before_its_timeout() -> None:
    # Given a gap the invocation has no time left for
    decision = plan_wait(
        SCHEDULE, elapsed_seconds=100, until_deadline_seconds=900, inline_max_gap_seconds=45, invocation_seconds_left=5
    )
    # Then it goes to the Wait state, rounded up to whole seconds
    assert not decision.inline
    assert decision.state_wait_seconds == 12


def test_the_last_gap_ends_at_the_deadline() -> None:
    # Given a deadline 3 s away and a schedule that would wait 60 s
    decision = plan_wait(
        SCHEDULE, elapsed_seconds=500, until_deadline_seconds=3, inline_max_gap_seconds=45, invocation_seconds_left=800
    )
    # Then the next look is at the deadline (so the timeout is noticed on time), slept inline
    assert decision.gap_seconds == 3
    assert decision.inline


def test_inline_limit_zero_sends_every_gap_to_the_wait_state() -> None:
    # Given an operator who set POLL_INLINE_MAX_GAP_SECONDS=0, when the shortest gap is planned
    decision = plan_wait(
        SCHEDULE, elapsed_seconds=0, until_deadline_seconds=900, inline_max_gap_seconds=0, invocation_seconds_left=800
    )
    # Then even that gap goes to the Wait state, as its one-second minimum
    assert not decision.inline
    assert decision.state_wait_seconds == 1


def test_inconsistent_schedule_is_refused() -> None:
    # Given a minimum gap above the maximum, then the schedule is refused where it is built
    with pytest.raises(ValueError, match="min_gap"):
        PollSchedule(lag_ratio=0.1, min_gap_seconds=10, max_gap_seconds=5)
