"""When a scheduled start refused for rate comes back (D39): a delay that doubles with the receives, in the upper half
of its ceiling, never past the maximum."""

from __future__ import annotations

import pytest

from bankupdate.domain.redelivery import ThrottledRetry


def test_each_receive_doubles_the_ceiling_until_the_maximum() -> None:
    # Given production's retry (60 s, at most the queue's 720 s)
    retry = ThrottledRetry(60, 720)
    # When the ceilings of the first receives are read
    ceilings = [retry.ceiling(receives) for receives in range(1, 7)]
    # Then they double from 60 s and stop at 720 s
    assert ceilings == [60, 120, 240, 480, 720, 720]


@pytest.mark.parametrize("draw", [0.0, 0.25, 0.5, 0.999999])
def test_a_delay_lies_in_the_upper_half_of_its_ceiling(draw: float) -> None:
    # Given production's retry and a message at its third receive (ceiling 240 s)
    retry = ThrottledRetry(60, 720)
    # When its delay is drawn
    delay = retry.delay(3, draw)
    # Then it is never sooner than half the ceiling and never past it
    assert 120 <= delay <= 240


def test_draws_spread_the_messages_of_one_batch() -> None:
    # Given ten messages refused together at their first receive
    retry = ThrottledRetry(60, 720)
    # When each draws its delay
    delays = {retry.delay(1, i / 10) for i in range(10)}
    # Then they come back at ten different seconds between 30 and 60
    assert len(delays) == 10 and min(delays) == 30 and max(delays) <= 60


def test_a_receive_count_far_past_the_maximum_stays_at_it() -> None:
    # Given a queue whose messages are received many times (no dead-letter queue)
    retry = ThrottledRetry(60, 720)
    # When a message at its 10,000th receive is refused
    # Then its ceiling is the maximum, without overflowing
    assert retry.ceiling(10_000) == 720 and retry.delay(10_000, 0.0) == 360


def test_the_least_span_before_the_dead_letter_queue_is_the_sum_of_the_shortest_delays() -> None:
    # Given production's retry and a queue that dead-letters at the fifth receive
    retry = ThrottledRetry(60, 720)
    # When a message is refused at every receive, each time after the shortest delay
    # Then it is dead-lettered after 30 + 60 + 120 + 240 s
    assert retry.least_span(5) == 450


@pytest.mark.parametrize(("base", "maximum", "draw"), [(0, 10, 0.5), (20, 10, 0.5), (10, 20, 1.0), (10, 20, -0.1)])
def test_a_retry_out_of_its_bounds_is_refused(base: int, maximum: int, draw: float) -> None:
    # Given a base of 0, a base above the maximum, or a draw outside [0, 1)
    # When the retry is made and a delay drawn
    # Then it is refused
    with pytest.raises(ValueError):
        ThrottledRetry(base, maximum).delay(1, draw)
