"""Where moto behaves unlike AWS in a way our guarantees or timings depend on, make it behave like AWS.

* DynamoDB applies each request atomically per item: a conditional write's check and write are one step, and a read
  never sees half a write. moto checks a condition and writes in two steps (two threads can both pass the same
  condition), and its request handler copies an item (``UpdateItem`` deep-copies the old one) while another thread's
  write changes it ("dictionary changed size during iteration"). The lock, budget and idempotency tests race exactly
  there, so every moto DynamoDB request is serialised, from its handler down to the backend's writes.
* Step Functions takes a task's SendTaskSuccess as soon as the task has started. moto's interpreter sets up a task's
  heartbeat only after the Lambda invocation returned, and a success that arrived during the invocation (the
  supervising task often finishes a short update inside its own invocation) then waits for a heartbeat timeout.
  The heartbeat is set up already notified when an outcome is there.
* Step Functions finds a task token's execution whatever else runs. moto looks through every running execution for
  it, and one that has just started has no evaluation environment yet: the search failed (HTTP 500) whenever a
  SendTask* call met an execution in its first milliseconds. Executions without one are passed over.
* A task whose heartbeat runs out fails with ``States.HeartbeatTimeout``, which a Catch or Retry on
  ``States.Timeout`` matches too (https://docs.aws.amazon.com/step-functions/latest/dg/concepts-error-handling.html).
  moto names every timeout ``States.Timeout``, so a Catch on ``States.HeartbeatTimeout`` never matched.
* An SQS long poll returns as soon as a message is visible; moto's wakes up for new messages, but a delayed message
  that becomes visible is only noticed at the end of a one-second wait. The schedule queue's
  consumer then waits a second for nothing; its long polls look again every 50 ms.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from typing import Any
from unittest import mock

from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.responses import DynamoHandler
from moto.sqs.models import Queue
from moto.stepfunctions.parser.api import HistoryEventType
from moto.stepfunctions.parser.asl.component.common.error_name.error_equals_decl import ErrorEqualsDecl
from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import FailureEvent
from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name import StatesErrorName
from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name_type import StatesErrorNameType
from moto.stepfunctions.parser.asl.component.state.exec.state_task.state_task import StateTask
from moto.stepfunctions.parser.asl.eval.callback.callback import (
    CallbackEndpoint,
    HeartbeatEndpoint,
    HeartbeatTimeoutError,
)
from moto.stepfunctions.parser.models import StepFunctionsParserBackend

_WRITES = ("put_item", "update_item", "delete_item", "transact_write_items")
_LOCK = threading.RLock()


def _serialised(method: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(method)
    def locked(*args: Any, **kwargs: Any) -> Any:
        with _LOCK:
            return method(*args, **kwargs)

    return locked


def atomic_dynamodb_requests() -> list[Any]:
    writes = [mock.patch.object(DynamoDBBackend, name, _serialised(getattr(DynamoDBBackend, name))) for name in _WRITES]
    return [mock.patch.object(DynamoHandler, "call_action", _serialised(DynamoHandler.call_action)), *writes]


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


def task_tokens_found_while_executions_start() -> list[Any]:
    original = StepFunctionsParserBackend._get_executions

    def get_executions(self: StepFunctionsParserBackend, execution_status: Any = None) -> list[Any]:
        found = original(self, execution_status)
        return [e for e in found if e.exec_worker is not None and e.exec_worker.env is not None]

    return [mock.patch.object(StepFunctionsParserBackend, "_get_executions", get_executions)]


_HEARTBEAT = StatesErrorName(typ=StatesErrorNameType.StatesHeartbeatTimeout)
_TIMEOUT = StatesErrorName(typ=StatesErrorNameType.StatesTimeout)


def heartbeat_timeouts_named_as_aws() -> list[Any]:
    original_from_error = StateTask._from_error
    original_matches = ErrorEqualsDecl._eval_body

    def from_error(self: StateTask, env: Any, ex: Exception) -> FailureEvent:
        if isinstance(ex, HeartbeatTimeoutError):
            timed_out: Any = self._get_timed_out_failure_event(env)  # the task's own TaskTimedOut event, renamed
            details = dict(timed_out.event_details["taskTimedOutEventDetails"], error=_HEARTBEAT.error_name)
            event_details: Any = {"taskTimedOutEventDetails": details}
            return FailureEvent(
                env=env, error_name=_HEARTBEAT, event_type=HistoryEventType.TaskTimedOut, event_details=event_details
            )
        return original_from_error(self, env, ex)

    def matches(self: ErrorEqualsDecl, env: Any) -> None:
        if env.stack and env.stack[-1] == _HEARTBEAT and _TIMEOUT in self.error_names:
            env.stack.pop()
            env.stack.append(True)
            return
        original_matches(self, env)

    return [
        mock.patch.object(StateTask, "_from_error", from_error),
        mock.patch.object(ErrorEqualsDecl, "_eval_body", matches),
    ]
