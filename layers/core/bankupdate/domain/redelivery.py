"""When a scheduled start that AWS refused for rate comes back to StartScheduledUpdate (decision D39).

Left to the queue, a refused start's message comes back when the visibility timeout its receive began ends (twelve
minutes), together with the rest of its batch and with every batch refused in the same seconds: they meet an empty
token bucket together again, and again twelve minutes later (a convoy). Brought forward and spread instead, each
comes back after a delay that doubles with its receives, drawn in the upper half of that ceiling ("equal jitter":
never at once, never together), and never later than the queue itself would have brought it back.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

_MAX_DOUBLINGS = 20  # 2**20 times any base is past SQS's 12-hour visibility limit: the ceiling is max_seconds by then


@dataclass(frozen=True)
class ThrottledRetry:
    base_seconds: int = 60
    max_seconds: int = 720

    def __post_init__(self) -> None:
        if not 1 <= self.base_seconds <= self.max_seconds:
            raise ValueError("need 1 <= base_seconds <= max_seconds")

    def ceiling(self, receives: int) -> int:
        """The longest delay after the ``receives``-th receive (SQS's ApproximateReceiveCount: this one included)."""
        doublings = min(max(1, receives) - 1, _MAX_DOUBLINGS)
        return min(self.max_seconds, self.base_seconds << doublings)

    def delay(self, receives: int, draw: float) -> int:
        """The delay after the ``receives``-th receive for a uniform ``draw`` in [0, 1): in the ceiling's upper half."""
        if not 0 <= draw < 1:
            raise ValueError("draw must be in [0, 1)")
        ceiling = self.ceiling(receives)
        return max(1, math.ceil(ceiling * (1 + draw) / 2))

    def least_span(self, max_receives: int) -> int:
        """The least time a message refused at each receive spends coming back before the queue dead-letters it (after
        ``max_receives`` receives): the shortest throttle that dead-letters it."""
        return sum(self.delay(receives, 0.0) for receives in range(1, max_receives))
