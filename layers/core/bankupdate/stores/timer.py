"""The look timer: an SQS queue whose messages are delayed by the poll gap (at most 15 minutes, SQS's limit)."""

from __future__ import annotations

from bankupdate.contract import LookMessage
from bankupdate.domain.backoff import SQS_MAX_DELAY_SECONDS
from bankupdate.stores.aws import ServiceClient


class SqsLookTimer:
    _sqs = ServiceClient("sqs")

    def __init__(self, queue_url: str) -> None:
        self._url = queue_url

    def schedule(self, message: LookMessage, delay_seconds: int) -> None:
        self._sqs.send_message(
            QueueUrl=self._url,
            MessageBody=message.model_dump_json(by_alias=True),
            DelaySeconds=max(0, min(SQS_MAX_DELAY_SECONDS, delay_seconds)),
        )
