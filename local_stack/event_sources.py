"""SQS event source mappings as Lambda runs them: each polls its queue with the function's role and hands batches to
concurrent invocations; a failed or unfinished batch (or the failed items of a partial batch response) stays in the
queue and comes back when the queue's visibility timeout ends."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from local_stack.creation_checks import DeploymentRefused
from local_stack.iam.authorizer import AccessDenied, Authorizer
from local_stack.lambdas.function import LocalFunction
from local_stack.lambdas.runtime import FunctionRuntime
from local_stack.template import REGION, Resolver

_DEFAULT_CONCURRENCY = 20
DEFAULT_VISIBILITY_SECONDS = 30  # SQS's default visibility timeout
LOG = logging.getLogger("local_stack")


def scaled_visibility(seconds: int, time_scale: float) -> int:
    """A queue's visibility timeout is a time the stack enforces: scaled like Lambda's timeouts."""
    return max(1, round(seconds * time_scale))


@dataclass(frozen=True)
class QueueMapping:
    logical_id: str
    queue_url: str
    queue_arn: str
    function: LocalFunction
    batch_size: int
    response_types: list[str]
    concurrency: int


def queue_mapping(
    logical_id: str,
    resolved: dict[str, Any],
    resolver: Resolver,
    functions: Mapping[str, LocalFunction],
    queue_visibility: Mapping[str, int],
) -> QueueMapping | None:
    """The mapping of an ``AWS::Lambda::EventSourceMapping`` (None for a source other than SQS), refused as
    CreateEventSourceMapping refuses it when the queue's visibility timeout is below the function's timeout."""
    queue_arn = str(resolved["EventSourceArn"])
    if ":sqs:" not in queue_arn:
        return None
    queue_name = queue_arn.rsplit(":", 1)[1]
    queue_url = next(url for url in resolver.refs.values() if str(url).endswith("/" + queue_name))
    function = functions[str(resolved["FunctionName"]).rsplit(":", 1)[-1]]
    visibility = queue_visibility.get(queue_arn, DEFAULT_VISIBILITY_SECONDS)
    if visibility < function.timeout:
        raise DeploymentRefused(  # CreateEventSourceMapping's InvalidParameterValueException
            f"{logical_id}: Queue visibility timeout: {visibility} seconds is less than "
            f"Function timeout: {function.timeout} seconds"
        )
    return QueueMapping(
        logical_id,
        queue_url,
        queue_arn,
        function,
        batch_size=int(resolved.get("BatchSize", 10)),
        response_types=resolved.get("FunctionResponseTypes", []),
        concurrency=int(resolved.get("ScalingConfig", {}).get("MaximumConcurrency", _DEFAULT_CONCURRENCY)),
    )


class QueuePollers:
    """One polling thread per mapping, from start() until stop()."""

    def __init__(
        self,
        mappings: list[QueueMapping],
        authorizer: Authorizer,
        runtime: FunctionRuntime,
        client: Callable[[str], Any],
    ) -> None:
        self._authorizer = authorizer
        self._runtime = runtime
        self._client = client
        self._stop = threading.Event()
        self._threads = [
            threading.Thread(target=self._poll, args=(m,), name=f"local-sqs-{m.logical_id}", daemon=True)
            for m in mappings
        ]

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            if thread.ident is not None:
                thread.join(timeout=5)

    def _poll(self, mapping: QueueMapping) -> None:
        """Like Lambda's event source mapping: batches go to concurrent invocations (up to its concurrency)."""
        sqs = self._client("sqs")
        function = mapping.function
        slots = threading.Semaphore(mapping.concurrency)
        while not self._stop.is_set():
            if not slots.acquire(timeout=0.5):
                continue
            try:
                with self._authorizer.acting_as(function.principal):  # the mapping polls with the function's role
                    answer = sqs.receive_message(
                        QueueUrl=mapping.queue_url,
                        MaxNumberOfMessages=min(mapping.batch_size, 10),
                        WaitTimeSeconds=1,
                        AttributeNames=["All"],
                    )
            except AccessDenied:  # Lambda stops polling a queue its role may not read (and reports it)
                LOG.exception("the event source mapping of %s cannot poll %s", function.logical_id, mapping.queue_arn)
                return
            except Exception:  # the server is shutting down
                slots.release()
                if self._stop.is_set():
                    return
                time.sleep(0.2)
                continue
            messages = answer.get("Messages", [])
            if not messages:
                slots.release()
                continue

            def run(messages: list[dict[str, Any]] = messages) -> None:
                try:
                    self._deliver(sqs, mapping, messages)
                except Exception:
                    if not self._stop.is_set():
                        raise
                    # The stack stopped while this batch ran: the queue is gone, nothing is left to settle.
                finally:
                    slots.release()

            threading.Thread(target=run, name=f"local-esm-{function.logical_id}", daemon=True).start()

    def _deliver(self, sqs: Any, mapping: QueueMapping, messages: list[dict[str, Any]]) -> None:
        records = [
            {
                "messageId": m["MessageId"],
                "receiptHandle": m["ReceiptHandle"],
                "body": m["Body"],
                "attributes": m.get("Attributes", {}),
                "messageAttributes": {},
                "md5OfBody": m.get("MD5OfBody", ""),
                "eventSource": "aws:sqs",
                "eventSourceARN": mapping.queue_arn,
                "awsRegion": REGION,
            }
            for m in messages
        ]
        try:
            result = self._runtime.invoke(mapping.function, {"Records": records})
            failed = {f["itemIdentifier"] for f in (result or {}).get("batchItemFailures", [])}
            if "ReportBatchItemFailures" not in mapping.response_types:
                failed = set()
        except Exception:  # the whole batch failed: every message returns to the queue
            failed = {m["MessageId"] for m in messages}
        with self._authorizer.acting_as(mapping.function.principal):
            for message in messages:
                # A failed one is left in the queue, as Lambda leaves it: it comes back when the visibility timeout
                # that its receive began ends (the queue's, scaled like the stack's other enforced times)
                if message["MessageId"] not in failed:
                    sqs.delete_message(QueueUrl=mapping.queue_url, ReceiptHandle=message["ReceiptHandle"])
