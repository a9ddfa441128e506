"""Where moto behaves unlike AWS in a way our guarantees or timings depend on, make it behave like AWS.

* DynamoDB evaluates a conditional write and applies it atomically per item; moto checks the condition and writes in
  two steps, so two threads can both pass the same condition. The lock, budget and idempotency tests race exactly
  there, so every moto DynamoDB write is serialised.
* Step Functions takes a task's SendTaskSuccess as soon as the task has started. moto's interpreter sets up a task's
  heartbeat only after the Lambda invocation returned, and a success that arrived during the invocation (the
  supervising task often finishes a short update inside its own invocation) then waits for a heartbeat timeout.
  The heartbeat is set up already notified when an outcome is there.
* An SQS long poll returns as soon as a message is visible; moto's wakes up for new messages, but a delayed message
  that becomes visible is only noticed at the end of a one-second wait. The look timer's delays are the poll gaps, so
  its long polls look again every 50 ms.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from typing import Any
from unittest import mock

from moto.dynamodb.models import DynamoDBBackend
from moto.sqs.models import Queue
from moto.stepfunctions.parser.asl.eval.callback.callback import CallbackEndpoint, HeartbeatEndpoint

_WRITES = ("put_item", "update_item", "delete_item", "transact_write_items")
_LOCK = threading.RLock()


def _serialised(method: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(method)
    def locked(*args: Any, **kwargs: Any) -> Any:
        with _LOCK:
            return method(*args, **kwargs)

    return locked


def atomic_dynamodb_writes() -> list[Any]:
    return [mock.patch.object(DynamoDBBackend, name, _serialised(getattr(DynamoDBBackend, name))) for name in _WRITES]


def prompt_sqs_long_polls(interval_seconds: float = 0.05) -> list[Any]:
    original = Queue.wait_for_messages

    def wait_for_messages(self: Queue, timeout: int) -> None:
        original(self, min(timeout, interval_seconds))  # type: ignore[arg-type]  # moto waits on a Condition

    return [mock.patch.object(Queue, "wait_for_messages", wait_for_messages)]


def early_task_success() -> list[Any]:
    original = CallbackEndpoint.setup_heartbeat_endpoint

    def setup_heartbeat_endpoint(self: CallbackEndpoint, heartbeat_seconds: int) -> HeartbeatEndpoint:
        endpoint: HeartbeatEndpoint = original(self, heartbeat_seconds)
        if self.get_outcome() is not None:
            endpoint.notify()  # type: ignore[no-untyped-call]
        return endpoint

    return [mock.patch.object(CallbackEndpoint, "setup_heartbeat_endpoint", setup_heartbeat_endpoint)]
