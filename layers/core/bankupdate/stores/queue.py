"""The SQS queue between the scheduler and the per-connection starts."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from itertools import islice

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

    def send_all(self, messages: Iterable[BaseModel]) -> tuple[int, int]:
        """Send in batches of ten; returns (messages sent, API calls made). Raises if SQS refused any."""
        sent = calls = 0
        for batch in _batches(messages):
            entries = [{"Id": str(i), "MessageBody": m.model_dump_json(by_alias=True)} for i, m in enumerate(batch)]
            answer = self._sqs.send_message_batch(QueueUrl=self._url, Entries=entries)
            calls += 1
            failed = answer.get("Failed", [])
            if failed:
                raise RuntimeError(f"SQS refused {len(failed)} scheduled connections: {failed[:3]}")
            sent += len(batch)
        return sent, calls
