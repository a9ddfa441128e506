"""When the next poll comes and where its gap is waited (domain.backoff, no I/O): the schedule, the break-even between
the Express poll loop and the Standard workflow, and the plan each poll makes."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bankupdate.domain.backoff import (
    MIN_GAP_SECONDS,
    LoopCost,
    LoopLimits,
    NextPoll,
    NextStep,
    PollSchedule,
    plan_next_poll,
)
from bankupdate.domain.prices import (
    EXPRESS_GB_SECOND_USD,
    EXPRESS_MIN_MEMORY_GB,
    EXPRESS_REQUEST_USD,
    STANDARD_TRANSITION_USD,
)

SCHEDULE = PollSchedule(lag_ratio=0.12, min_gap_seconds=1, max_gap_seconds=300)
LIMITS = LoopLimits(max_seconds=300, poll_reserve_seconds=130)
BREAK_EVEN = LoopCost().break_even_gap_seconds()


def plan(
    elapsed: float,
    *,
    until_deadline: float = 900,
    since_poll: float = 0,
    loop_age: float = 0,
    limits: LoopLimits = LIMITS,
    break_even: float = BREAK_EVEN,
    callbacks: bool = False,
    schedule: PollSchedule = SCHEDULE,
) -> NextPoll:
    return plan_next_poll(
        schedule,
        elapsed_seconds=elapsed,
        until_deadline_seconds=until_deadline,
        since_poll_seconds=since_poll,
        loop_age_seconds=loop_age,
        limits=limits,
        break_even_gap_seconds=break_even,
        callbacks=callbacks,
    )


# --------------------------------------------------------------------------------------------- the schedule


def test_the_gap_grows_with_the_time_the_update_has_run_between_its_bounds() -> None:
    # When gaps are planned at growing elapsed times
    gaps = [SCHEDULE.gap_after(t) for t in (0, 2, 10, 60, 600, 3600)]
    # Then they start at the minimum, never shrink, follow the lag ratio in between and stop at the maximum
    assert gaps[0] == 1
    assert gaps == sorted(gaps)
    assert gaps[3] == pytest.approx(7.2)
    assert gaps[-1] == 300


def test_a_negative_elapsed_time_is_the_minimum_gap() -> None:
    # Given a clock that went back a little between the trigger and the poll, then the gap is the minimum
    assert SCHEDULE.gap_after(-5) == SCHEDULE.min_gap_seconds


@pytest.mark.parametrize(
    ("lag_ratio", "low", "high"),
    [(0.1, 10, 5), (0.1, 0, 5), (-0.1, 1, 5)],
)
def test_an_inconsistent_schedule_is_refused_where_it_is_built(lag_ratio: float, low: float, high: float) -> None:
    with pytest.raises(ValueError, match="min_gap"):
        PollSchedule(lag_ratio=lag_ratio, min_gap_seconds=low, max_gap_seconds=high)


# --------------------------------------------------------------------------------------------- the break-even


def test_the_break_even_gap_comes_from_the_list_prices_and_is_about_73_seconds() -> None:
    # Given the list prices: a hand-over costs three Standard transitions and one Express start; a second of the loop
    # costs Express's smallest memory step
    hand_over = 3 * STANDARD_TRANSITION_USD + EXPRESS_REQUEST_USD
    per_second = EXPRESS_MIN_MEMORY_GB * EXPRESS_GB_SECOND_USD
    # When the break-even is computed
    cost = LoopCost()
    # Then a gap this long costs as much in the loop as handed to the workflow
    assert cost.hand_over_usd() == pytest.approx(hand_over)
    assert cost.express_usd_per_second() == pytest.approx(per_second)
    assert cost.break_even_gap_seconds() == pytest.approx(hand_over / per_second)
    assert 72 < cost.break_even_gap_seconds() < 74


def test_more_loop_memory_shortens_the_break_even_and_dearer_hand_overs_lengthen_it() -> None:
    base = LoopCost().break_even_gap_seconds()
    assert math.isclose(LoopCost(express_memory_gb=2 * EXPRESS_MIN_MEMORY_GB).break_even_gap_seconds(), base / 2)
    assert LoopCost(hand_over_transitions=4).break_even_gap_seconds() > base


# --------------------------------------------------------------------------------------------- the plan


def test_a_short_gap_is_waited_in_the_loop() -> None:
    # Given an update 20 s into its download (a 2.4 s gap), then the loop waits 2 whole seconds and polls
    assert plan(20) == NextPoll(NextStep.POLL, 2)


def test_a_gap_beyond_the_break_even_is_handed_to_the_workflow() -> None:
    # Given an update 700 s into its download (an 84 s gap, beyond the ~73 s break-even)
    # Then the Standard workflow waits it; with finAPI's callbacks it waits for them, the gap at most
    assert plan(700) == NextPoll(NextStep.WAIT_LONGER, 84)
    assert plan(700, callbacks=True) == NextPoll(NextStep.AWAIT_CALLBACK, 84)


def test_a_gap_at_the_break_even_stays_in_the_loop() -> None:
    # Given a break-even of exactly the gap, then the loop keeps it (only longer gaps are cheaper outside)
    assert plan(100, break_even=12).step is NextStep.POLL
    assert plan(100, break_even=11.9).step is NextStep.WAIT_LONGER


def test_a_loop_near_its_time_limit_hands_on_to_a_fresh_loop() -> None:
    # Given a loop whose wait and one more poll would outlast Express's limit
    limits = LoopLimits(max_seconds=300, poll_reserve_seconds=130)
    # Then a fresh loop waits the gap; one that still has room polls itself
    assert plan(100, loop_age=159, limits=limits) == NextPoll(NextStep.CONTINUE, 12)
    assert plan(100, loop_age=158, limits=limits) == NextPoll(NextStep.POLL, 12)


def test_the_gap_counts_from_the_start_of_the_last_poll() -> None:
    # Given a poll that took 3 s, 100 s into a download (a 12 s gap)
    # Then only the rest is waited, so polls stay 12 % of the elapsed time apart however long each takes
    assert plan(100, since_poll=3).wait_seconds == 9
    # And a poll that took longer than the gap is followed after the shortest wait there is
    assert plan(100, since_poll=30).wait_seconds == MIN_GAP_SECONDS


def test_the_last_gap_ends_at_the_deadline() -> None:
    # Given a deadline 3 s away and a schedule that would wait 60 s, then the next poll comes at the deadline
    assert plan(500, until_deadline=3).wait_seconds == 3
    # And a deadline already past polls after the shortest wait (that poll notices the timeout)
    assert plan(500, until_deadline=-10).wait_seconds == MIN_GAP_SECONDS


def test_a_gap_is_waited_in_whole_seconds_rounded_to_the_nearest() -> None:
    # Given gaps of 2.4 s and 2.64 s (20 s and 22 s in), then the Wait states last 2 s and 3 s
    assert (plan(20).wait_seconds, plan(22).wait_seconds) == (2, 3)


@settings(deadline=None)  # pure arithmetic: never slow, but the machine may be loaded
@given(
    elapsed=st.floats(min_value=0, max_value=10_000),
    until_deadline=st.floats(min_value=-100, max_value=3_600),
    since_poll=st.floats(min_value=0, max_value=400),
    loop_age=st.floats(min_value=0, max_value=300),
    break_even=st.floats(min_value=1, max_value=600),
    callbacks=st.booleans(),
)
def test_every_plan_waits_whole_seconds_of_at_least_one_and_never_past_the_deadline(
    elapsed: float, until_deadline: float, since_poll: float, loop_age: float, break_even: float, callbacks: bool
) -> None:
    # When any poll plans the next
    planned = plan(
        elapsed,
        until_deadline=until_deadline,
        since_poll=since_poll,
        loop_age=loop_age,
        break_even=break_even,
        callbacks=callbacks,
    )
    # Then the Wait state gets whole seconds, at least one (finAPI's one read a second)
    assert isinstance(planned.wait_seconds, int) and planned.wait_seconds >= MIN_GAP_SECONDS
    # And the next poll comes no later than the deadline (within the rounding to whole seconds), unless that is the
    # shortest wait there is
    next_poll = since_poll + planned.wait_seconds
    assert next_poll <= max(until_deadline, SCHEDULE.min_gap_seconds) + 0.5 or planned.wait_seconds == MIN_GAP_SECONDS
    # And where it is waited follows the gap: beyond the break-even outside the loop, else in a loop with room left
    gap = min(SCHEDULE.gap_after(elapsed), max(until_deadline, SCHEDULE.min_gap_seconds))
    if gap > break_even:
        assert planned.step is (NextStep.AWAIT_CALLBACK if callbacks else NextStep.WAIT_LONGER)
    elif planned.step is NextStep.POLL:
        assert loop_age + planned.wait_seconds + LIMITS.poll_reserve_seconds <= LIMITS.max_seconds
    else:
        assert planned.step is NextStep.CONTINUE


def first_poll_after(schedule: PollSchedule, duration: float, deadline: float) -> float:
    """The moment of the first poll at or after ``duration`` (a download that ends then), polling as planned from the
    trigger on (each poll taking no time; where each gap is waited does not change its length)."""
    moment = 0.0
    while moment < duration:
        planned = plan(moment, until_deadline=deadline - moment, schedule=schedule)
        moment += planned.wait_seconds
    return moment


@settings(deadline=None)  # pure arithmetic: never slow, but the machine may be loaded
@given(
    duration=st.floats(min_value=0.1, max_value=3_000),
    lag_ratio=st.sampled_from([0.05, 0.12, 0.25, 0.5]),
)
def test_a_finished_download_is_noticed_within_the_lag_ratio_of_its_duration(duration: float, lag_ratio: float) -> None:
    # Given a download of any length under a deadline far beyond it, polled with this lag ratio
    schedule = PollSchedule(lag_ratio=lag_ratio, min_gap_seconds=1, max_gap_seconds=300)
    # When the polls go on until one sees it finished
    noticed = first_poll_after(schedule, duration, deadline=10 * duration + 1_000)
    # Then that poll comes within the lag ratio of the duration (plus half a second: Wait states count whole seconds),
    # or within the shortest gap for a short download
    assert 0 <= noticed - duration <= max(lag_ratio * duration + 0.5, MIN_GAP_SECONDS)


@settings(deadline=None)  # pure arithmetic: never slow, but the machine may be loaded
@given(deadline=st.floats(min_value=1, max_value=3_000))
def test_a_download_that_outlasts_its_deadline_is_polled_at_the_deadline(deadline: float) -> None:
    # Given a download that never ends, when the polls go on until the deadline
    moment = 0.0
    while moment < deadline:
        moment += plan(moment, until_deadline=deadline - moment).wait_seconds
    # Then the poll that finds it past the deadline comes within a second of it
    assert deadline <= moment <= deadline + MIN_GAP_SECONDS
