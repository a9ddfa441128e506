"""The patches moto's Step Functions interpreter needs to run our workflows locally (see the moto canary test)."""

from __future__ import annotations

import time
import types
import uuid
from typing import Any
from unittest import mock

from moto.stepfunctions.exceptions import ValidationException
from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl
from moto.stepfunctions.parser.asl.component.state.wait.wait_function.wait_function import WaitFunction
from moto.stepfunctions.parser.models import StepFunctionsParserBackend

# Step Functions' payload quota for execution input and task output (moto checks the state output itself).
MAX_PAYLOAD_BYTES = 262_144


def _within_payload_quota(field: str, value: Any) -> None:
    if value is not None and len(str(value).encode()) > MAX_PAYLOAD_BYTES:
        raise ValidationException(
            f"1 validation error detected: Value at '{field}' failed to satisfy constraint: "
            f"Member must have length less than or equal to {MAX_PAYLOAD_BYTES}"
        )


def patches(wait_scale: float) -> list[Any]:
    """Wait states and Retry intervals scaled by ``wait_scale``; executions started without a name get one; the
    256 KB payload quota on execution input and task output."""
    original_start = StepFunctionsParserBackend.start_execution
    original_success = StepFunctionsParserBackend.send_task_success

    def start_execution(
        self: Any, state_machine_arn: str, name: Any = None, execution_input: Any = None, trace_header: Any = None
    ) -> Any:
        _within_payload_quota("input", execution_input)
        return original_start(self, state_machine_arn, name or str(uuid.uuid4()), execution_input, trace_header)

    def send_task_success(self: Any, task_token: Any, outcome: str) -> Any:
        _within_payload_quota("output", outcome)
        return original_success(self, task_token, outcome)

    def wait_interval(self: Any, env: Any, wait_seconds: int) -> None:
        if wait_seconds > 0:
            env.program_state_event.wait(wait_seconds * wait_scale)

    # The real module, not `retrier_decl.time`: that name is what gets patched, and would then call itself.
    scaled_time = types.SimpleNamespace(sleep=lambda seconds: time.sleep(seconds * wait_scale), time=time.time)
    return [
        mock.patch.object(StepFunctionsParserBackend, "start_execution", start_execution),
        mock.patch.object(StepFunctionsParserBackend, "send_task_success", send_task_success),
        mock.patch.object(WaitFunction, "_wait_interval", wait_interval),
        mock.patch.object(retrier_decl, "time", scaled_time),
    ]
