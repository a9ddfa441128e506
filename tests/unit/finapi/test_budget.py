"""The finAPI budget of one use case run: what is left clips each request, and nothing starts once it is spent."""

from __future__ import annotations

import pytest

from bankupdate.domain.errors import UpstreamUnavailable
from bankupdate.finapi.budget import SMALLEST_REQUEST_SECONDS, FinapiBudget


class Ticks:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_each_request_gets_at_most_what_is_left_and_a_new_run_gets_it_all() -> None:
    ticks = Ticks()
    budget = FinapiBudget(10, monotonic=ticks)
    # Given a run that spent 7 s in one request and 1 s in a backoff pause
    with budget.request():
        ticks.now += 7
    budget.spend(1)
    # Then the next request waits at most the 2 s left, whatever its own timeouts
    timeout = budget.timeout(connect=3, read=15, what="GET /x")
    assert (timeout.connect, timeout.read) == (2, 2)
    # And a pause that would leave no room for a request is not taken
    assert not budget.allows_pause(2 - SMALLEST_REQUEST_SECONDS + 0.01)
    # When a new run starts, the budget is whole again
    budget.restart()
    assert budget.left == 10


def test_a_spent_budget_starts_no_request() -> None:
    ticks = Ticks()
    budget = FinapiBudget(1, monotonic=ticks)
    with budget.request():
        ticks.now += 0.8
    with pytest.raises(UpstreamUnavailable, match="budget of 1 s spent before POST /update"):
        budget.timeout(connect=3, read=15, what="POST /update")
