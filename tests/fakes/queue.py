"""``DueQueue`` that keeps what was sent, in SendMessageBatch's batches of ten (the adapter's calls), and each
message's delay; and each received message the consumer told to come back later."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from itertools import islice

from pydantic import BaseModel

SQS_BATCH = 10


class RecordingDueQueue:
    def __init__(self) -> None:
        self.sent: list[BaseModel] = []
        self.delays: list[int] = []
        self.calls = 0
        self.handled = 0  # how many of those sent the consumer has taken off the queue
        self.brought_back: list[tuple[str, int]] = []  # (receipt, seconds) of each ChangeMessageVisibility
        self.refuse_visibility: Exception | None = None  # what ChangeMessageVisibility raises, if anything

    def waiting(self) -> int:
        return len(self.sent) - self.handled

    def send_all(self, messages: Iterable[BaseModel], delay_of: Callable[[int], int] | None = None) -> tuple[int, int]:
        iterator = iter(messages)
        sent = calls = 0
        while batch := list(islice(iterator, SQS_BATCH)):
            self.delays += [delay_of(sent + i) if delay_of is not None else 0 for i in range(len(batch))]
            self.sent += batch
            calls += 1
            sent += len(batch)
        self.calls += calls
        return sent, calls

    def come_back_in(self, receipt: str, seconds: int) -> None:
        if self.refuse_visibility is not None:
            raise self.refuse_visibility
        self.brought_back.append((receipt, seconds))
