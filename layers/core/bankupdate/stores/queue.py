"""The SQS queue between the scheduler and the per-connection starts."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from itertools import islice
from typing import Any

from pydantic import BaseModel

from bankupdate.stores.aws import ServiceClient

SQS_BATCH = 10  # SendMessageBatch's maximum


def _batches(messages: Iterable[BaseModel]) -> Iterator[list[BaseModel]]:
    iterator = iter(messages)
    while batch := list(islice(iterator, SQS_BATCH)):
        yield batch


class SqsDueQueue:
    _sqs = ServiceClient("sqs")

    def __init__(self, queue_url: str) -> None:
        self._url = queue_url

    def send_all(self, messages: Iterable[BaseModel], delay_of: Callable[[int], int] | None = None) -> tuple[int, int]:
        """Send in batches of ten, the ``i``-th message with ``DelaySeconds=delay_of(i)``; returns (messages sent,
        API calls made). Raises if SQS refused any."""
        sent = calls = 0
        for batch in _batches(messages):
            entries: list[dict[str, Any]] = []
            for i, message in enumerate(batch):
                entry: dict[str, Any] = {"Id": str(i), "MessageBody": message.model_dump_json(by_alias=True)}
                if delay_of is not None and (delay := delay_of(sent + i)) > 0:
                    entry["DelaySeconds"] = delay
                entries.append(entry)
            answer = self._sqs.send_message_batch(QueueUrl=self._url, Entries=entries)
            calls += 1
            failed = answer.get("Failed", [])
            if failed:
                raise RuntimeError(f"SQS refused {len(failed)} scheduled connections: {failed[:3]}")
            sent += len(batch)
        return sent, calls

    def waiting(self) -> int:
        """Messages not yet handled: visible, in flight (received, not deleted) and still held back (SQS's
        approximate counts, eventually consistent: a run may queue a few more or fewer than one window)."""
        names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
        names.append("ApproximateNumberOfMessagesDelayed")
        attributes = self._sqs.get_queue_attributes(QueueUrl=self._url, AttributeNames=names)["Attributes"]
        return sum(int(attributes.get(name, 0)) for name in names)

    def come_back_in(self, receipt: str, seconds: int) -> None:
        # (Lambda's event source leaves a message it was told failed alone: this visibility is the one that counts)
        self._sqs.change_message_visibility(QueueUrl=self._url, ReceiptHandle=receipt, VisibilityTimeout=seconds)
