"""A lost answer on the wire, as botocore meets it after a read timeout: the write landed, botocore retries it."""

from __future__ import annotations

from typing import Any


class LostAnswers:
    """botocore is told the first answer to ``operation`` on ``client`` was lost: it retries a call that landed."""

    def __init__(self, client: Any, operation: str) -> None:
        self.client, self.event = client, f"needs-retry.dynamodb.{operation}"
        self.retried = 0

    def __call__(self, attempts: int, **_: Any) -> float | None:
        if attempts == 1 and self.retried == 0:
            self.retried += 1
            return 0.0  # retry at once
        return None

    def __enter__(self) -> LostAnswers:
        self.client.meta.events.register_first(self.event, self, unique_id="test-lost-answer")
        return self

    def __exit__(self, *_: object) -> None:
        self.client.meta.events.unregister(self.event, unique_id="test-lost-answer")
