"""The patches moto's Step Functions interpreter needs to run our workflows locally (see the moto canary test)."""

from __future__ import annotations

import threading
import time
import types
import uuid
from datetime import UTC, datetime
from typing import Any
from unittest import mock

from moto.core.exceptions import AWSError
from moto.core.responses import EmptyResult
from moto.stepfunctions.exceptions import ValidationException
from moto.stepfunctions.parser.asl.component.common.error_name.custom_error_name import CustomErrorName
from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_sfn import (
    StateTaskServiceSfn,
)
from moto.stepfunctions.parser.asl.component.state.wait.wait_function.wait_function import WaitFunction
from moto.stepfunctions.parser.asl.eval.callback.callback import CallbackEndpoint
from moto.stepfunctions.parser.models import StepFunctionsParserBackend
from moto.stepfunctions.responses import StepFunctionResponse

# Step Functions' payload quota for execution input and task output (moto checks the state output itself).
MAX_PAYLOAD_BYTES = 262_144
# SendTaskFailure: the error is at most 256 characters, the cause at most 32,768.
MAX_ERROR_LENGTH = 256
MAX_CAUSE_LENGTH = 32_768


def _within_payload_quota(field: str, value: Any) -> None:
    if value is not None and len(str(value).encode()) > MAX_PAYLOAD_BYTES:
        raise ValidationException(
            f"1 validation error detected: Value at '{field}' failed to satisfy constraint: "
            f"Member must have length less than or equal to {MAX_PAYLOAD_BYTES}"
        )


class TaskTimedOut(AWSError):
    TYPE = "TaskTimedOut"

    def __init__(self) -> None:
        super().__init__("Task Timed Out: the task has had its outcome, or timed out")


def _within_length(field: str, value: Any, limit: int) -> None:
    if value is not None and len(str(value)) > limit:
        raise ValidationException(
            f"1 validation error detected: Value at '{field}' failed to satisfy constraint: "
            f"Member must have length less than or equal to {limit}"
        )


def patches(wait_scale: float, retry_scale: float | None = None) -> list[Any]:
    """Wait states scaled by ``wait_scale``, Retry intervals by ``retry_scale`` (the same unless given); executions
    started without a name get one; the 256 KB payload quota on execution input and task output, and SendTaskFailure's
    limits; the Step Functions integration (``arn:aws:states:::states:startExecution``) taking its parameters by their
    ASL names, and naming its errors ``StepFunctions.<code>`` (``StepFunctions.ThrottlingException``); SendTaskFailure
    keeping its cause (moto's HTTP layer dropped it: a Catch saw ``"Cause": null``); a task that has had its outcome
    refusing another (and a heartbeat) with TaskTimedOut, as Step Functions does (moto took a second outcome for a
    token whose execution had moved on to another task)."""
    original_start = StepFunctionsParserBackend.start_execution
    original_success = StepFunctionsParserBackend.send_task_success
    original_failure = StepFunctionsParserBackend.send_task_failure
    original_heartbeat = StepFunctionsParserBackend.send_task_heartbeat
    original_normalise = StateTaskServiceSfn._normalise_parameters
    original_sfn_error = StateTaskServiceSfn._from_error

    def start_execution(
        self: Any, state_machine_arn: str, name: Any = None, execution_input: Any = None, trace_header: Any = None
    ) -> Any:
        _within_payload_quota("input", execution_input)
        return original_start(self, state_machine_arn, name or str(uuid.uuid4()), execution_input, trace_header)

    closed: set[str] = set()  # tokens of tasks that ended, however (an outcome, a timeout, a heartbeat timeout)
    closing = threading.Lock()
    original_interrupt = CallbackEndpoint.interrupt_all

    def task_ended(endpoint: CallbackEndpoint) -> None:
        with closing:
            closed.add(endpoint.callback_id)
        original_interrupt(endpoint)

    def once(task_token: Any, send: Any) -> Any:
        with closing:
            if task_token in closed:
                raise TaskTimedOut()
            answer = send()
            closed.add(task_token)
            return answer

    def send_task_success(self: Any, task_token: Any, outcome: str) -> Any:
        _within_payload_quota("output", outcome)
        return once(task_token, lambda: original_success(self, task_token, outcome))

    def send_task_failure(self: Any, task_token: Any, error: Any = None, cause: Any = None) -> Any:
        _within_length("error", error, MAX_ERROR_LENGTH)
        _within_length("cause", cause, MAX_CAUSE_LENGTH)
        return once(task_token, lambda: original_failure(self, task_token, error, cause))

    def send_task_heartbeat(self: Any, task_token: Any) -> Any:
        if task_token in closed:
            raise TaskTimedOut()
        return original_heartbeat(self, task_token)

    def send_task_failure_request(self: Any) -> Any:
        self.stepfunction_backend.send_task_failure(
            self._get_param("taskToken"), error=self._get_param("error"), cause=self._get_param("cause")
        )
        return EmptyResult()

    def normalise_parameters(
        self: Any, parameters: dict[str, Any], boto_service_name: Any = None, service_action_name: Any = None
    ) -> None:
        # ASL names the optimised integration's parameters as the API does (StateMachineArn, Input, Name); moto's
        # port hands them to boto3 unchanged, which knows them as stateMachineArn, input, name.
        original_normalise(self, parameters, boto_service_name, service_action_name)
        for key in list(parameters):
            parameters[key[:1].lower() + key[1:]] = parameters.pop(key)

    def sfn_error(self: Any, env: Any, ex: Exception) -> Any:
        # moto names a failed Step Functions integration call "StepFunctions.<code>Exception" whatever the code: a
        # ThrottlingException became "StepFunctions.ThrottlingExceptionException", which no Retry names.
        event: Any = original_sfn_error(self, env, ex)
        name = getattr(event.error_name, "error_name", None)
        if isinstance(name, str) and name.endswith("ExceptionException"):
            fixed = name.removesuffix("Exception")
            event.error_name = CustomErrorName(fixed)
            details: Any = (event.event_details or {}).get("taskFailedEventDetails")
            if details is not None:
                details["error"] = fixed
        return event

    def wait_interval(self: Any, env: Any, wait_seconds: int) -> None:
        if wait_seconds > 0:
            env.program_state_event.wait(wait_seconds * wait_scale)

    # The real module, not `retrier_decl.time`: that name is what gets patched, and would then call itself.
    retries = wait_scale if retry_scale is None else retry_scale
    scaled_time = types.SimpleNamespace(sleep=lambda seconds: time.sleep(seconds * retries), time=time.time)
    return [
        mock.patch.object(StepFunctionsParserBackend, "start_execution", start_execution),
        mock.patch.object(StepFunctionsParserBackend, "send_task_success", send_task_success),
        mock.patch.object(StepFunctionsParserBackend, "send_task_failure", send_task_failure),
        mock.patch.object(StepFunctionsParserBackend, "send_task_heartbeat", send_task_heartbeat),
        mock.patch.object(CallbackEndpoint, "interrupt_all", task_ended),
        mock.patch.object(StepFunctionResponse, "send_task_failure", send_task_failure_request),
        mock.patch.object(StateTaskServiceSfn, "_normalise_parameters", normalise_parameters),
        mock.patch.object(StateTaskServiceSfn, "_from_error", sfn_error),
        mock.patch.object(WaitFunction, "_wait_interval", wait_interval),
        mock.patch.object(retrier_decl, "time", scaled_time),
    ]


def stop_running_executions(backend: StepFunctionsParserBackend) -> int:
    """Stop every execution still running, Express loops included; how many were. The interpreter runs each in a
    thread of this process: one left running past its stack would make its next calls under the next stack's patches
    (and take what a test aimed at that stack's own workflows)."""
    stopped = 0
    now = datetime.now(UTC)
    for machine in list(backend.state_machines):
        executions: list[Any] = list(machine.executions)  # the parser's executions, with their workers
        for execution in executions:
            if str(getattr(execution.exec_status, "value", execution.exec_status)) == "RUNNING":
                execution.stop(stop_date=now, error="States.Runtime", cause="the local stack stopped")
                stopped += 1
                # A task waiting on its token waits out its heartbeat unless its endpoint is interrupted too.
                env = getattr(execution.exec_worker, "env", None)
                pool = getattr(getattr(env, "callback_pool_manager", None), "_pool", {})
                for endpoint in list(pool.values()):
                    endpoint.interrupt_all()
    return stopped
