"""``DueQueue`` that keeps what was sent, in SendMessageBatch's batches of ten (the adapter's calls)."""

from __future__ import annotations

from collections.abc import Iterable
from itertools import islice

from pydantic import BaseModel

SQS_BATCH = 10


class RecordingDueQueue:
    def __init__(self) -> None:
        self.sent: list[BaseModel] = []
        self.calls = 0

    def send_all(self, messages: Iterable[BaseModel]) -> tuple[int, int]:
        iterator = iter(messages)
        sent = calls = 0
        while batch := list(islice(iterator, SQS_BATCH)):
            self.sent += batch
            calls += 1
            sent += len(batch)
        self.calls += calls
        return sent, calls
