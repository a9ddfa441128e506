"""``CursorKeys`` with keys given in the test (the adapter reads them from the stack's secret)."""

from __future__ import annotations

from bankupdate.domain.sync_cursor import CursorKey


class StaticCursorKeys:
    def __init__(self, *secrets: bytes) -> None:
        self._keys = tuple(CursorKey(s) for s in (secrets or (b"test-cursor-key-" * 4,)))

    def keys(self) -> tuple[CursorKey, ...]:
        return self._keys
