"""How long the poll loop waits between two looks at finAPI.

Every loop costs three state transitions, so the wait grows (finAPI downloads usually end within seconds but can take
minutes) and is capped so that a slow download is still noticed soon after it ends.
"""

from __future__ import annotations

import math


def poll_wait_seconds(poll_count: int, *, initial: int, cap: int, factor: float = 1.6) -> int:
    """Wait before poll number ``poll_count + 1``: initial, initial*factor, ... never more than ``cap``."""
    if poll_count < 0:
        raise ValueError("poll_count must not be negative")
    if initial <= 0:
        return 0
    wait = initial * factor**poll_count
    return int(min(cap, math.ceil(wait)))
