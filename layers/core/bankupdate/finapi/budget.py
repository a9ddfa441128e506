"""How long one use case may wait for finAPI: every request, retry, backoff pause and token fetch together.

A finAPI request's worst case is its connect plus read timeout, times the attempts of every request on the way
(token fetches, the first-sight ownership read, a retry after a 401, the retries of an idempotent read). Summed up
that far exceeds any Lambda timeout, so the clients hold every run of a use case to ``FINAPI_BUDGET_SECONDS``
(decision D27): each request's timeouts are clipped to what is left of it, a retry or token fetch that no longer fits
is not started, and what the run spent is counted per run (the composition root starts a new budget for every use
case it builds). ``tests/template/test_timing.py`` checks each function's Lambda timeout against its budget.

httpx's read timeout bounds each wait for the next bytes, not the whole answer: a server sending a few bytes at a
time could stretch one request past it. finAPI answers small JSON documents; the budget is not meant for that case.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

import httpx

from bankupdate.domain.errors import UpstreamUnavailable

# Less than this left: a request would only time out, so it is not started.
SMALLEST_REQUEST_SECONDS = 0.5


@dataclass
class _Run:
    spent: float = 0.0


class FinapiBudget:
    def __init__(self, seconds: float, monotonic: Callable[[], float] = time.monotonic) -> None:
        self.seconds = seconds
        self._monotonic = monotonic
        # Per context: the local stack runs concurrent invocations of one function in threads of one process.
        self._run: ContextVar[_Run | None] = ContextVar(f"finapi_budget_{id(self)}", default=None)

    def restart(self) -> None:
        """A new use case run: the whole budget again."""
        self._run.set(_Run())

    def _current(self) -> _Run:
        run = self._run.get()
        if run is None:
            run = _Run()
            self._run.set(run)
        return run

    @property
    def left(self) -> float:
        return max(0.0, self.seconds - self._current().spent)

    def spend(self, seconds: float) -> None:
        self._current().spent += max(0.0, seconds)

    def timeout(self, *, connect: float, read: float, what: str) -> httpx.Timeout:
        """The timeouts for the next request, clipped to what is left; UpstreamUnavailable if nothing useful is."""
        left = self.left
        if left < SMALLEST_REQUEST_SECONDS:
            raise UpstreamUnavailable(f"finAPI time budget of {self.seconds:g} s spent before {what}")
        return httpx.Timeout(min(read, left), connect=min(connect, left), pool=min(connect, left))

    def allows_pause(self, seconds: float) -> bool:
        """Whether a pause (backoff, pacing) still leaves room for the request after it."""
        return self.left - seconds >= SMALLEST_REQUEST_SECONDS

    @contextmanager
    def request(self) -> Iterator[None]:
        started = self._monotonic()
        try:
            yield
        finally:
            self.spend(self._monotonic() - started)
