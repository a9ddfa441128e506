"""The scheduled path's pacing: how many due connections a run queues and when each becomes visible."""

from __future__ import annotations

from collections import Counter

import pytest

from bankupdate.domain.pacing import Pacing, run_period_seconds


@pytest.mark.parametrize(
    ("expression", "seconds"),
    [
        ("rate(15 minutes)", 900),
        ("rate(1 minute)", 60),
        ("rate(2 hours)", 7200),
        ("rate(1 day)", 86400),
        ("cron(0/15 * * * ? *)", None),
        ("at(2026-01-01T00:00:00)", None),
    ],
)
def test_the_period_of_a_schedule_expression(expression: str, seconds: int | None) -> None:
    # Given a scheduler expression
    # When its period is read
    # Then a rate has one, a cron or a one-time schedule none
    assert run_period_seconds(expression) == seconds


def test_a_run_queues_one_period_at_the_rate() -> None:
    # Given 50 starts a second and a scheduler every 15 minutes
    pacing = Pacing.of(50, "rate(15 minutes)")
    # When the size of one run is asked
    # Then it is 45,000: what the rate drains before the next run
    assert (pacing.window_seconds, pacing.per_run) == (900, 45_000)


def test_the_window_is_never_longer_than_sqs_can_delay() -> None:
    # Given an hourly scheduler, and a cron one
    # When their pacing is made
    # Then the window is SQS's longest delay, 900 s
    assert Pacing.of(10, "rate(1 hour)").window_seconds == 900
    assert Pacing.of(10, "cron(0/15 * * * ? *)").window_seconds == 900


def test_no_second_of_a_run_sees_more_than_the_rate() -> None:
    # Given 7 starts a second over a 15-minute window
    pacing = Pacing.of(7, "rate(15 minutes)")
    # When every connection of a full run gets its delay
    per_second = Counter(pacing.delay_of(i) for i in range(pacing.per_run))
    # Then each second of the window releases exactly 7, none more, and none waits past the window
    assert set(per_second.values()) == {7}
    assert max(per_second) == pacing.window_seconds - 1


def test_a_fractional_rate_spreads_starts_over_seconds() -> None:
    # Given half a start a second
    pacing = Pacing(starts_per_second=0.5, window_seconds=60)
    # When the first four connections get their delays
    # Then one becomes visible every two seconds
    assert [pacing.delay_of(i) for i in range(4)] == [0, 2, 4, 6]
    assert pacing.per_run == 30


def test_a_small_run_is_not_held_back() -> None:
    # Given the default 50 a second and a handful of due connections
    pacing = Pacing.of(50, "rate(15 minutes)")
    # When their delays are read
    # Then none waits: pacing only shapes a backlog
    assert {pacing.delay_of(i) for i in range(50)} == {0}


def test_a_rate_must_be_positive_and_a_window_fit_sqs() -> None:
    # Given impossible pacings
    # When they are made
    # Then they are refused
    with pytest.raises(ValueError, match="positive rate"):
        Pacing(starts_per_second=0, window_seconds=900)
    with pytest.raises(ValueError, match="window"):
        Pacing(starts_per_second=1, window_seconds=901)
