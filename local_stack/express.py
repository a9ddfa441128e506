"""Express workflows as AWS runs them, where moto runs them like Standard ones.

* An Express execution runs at most five minutes: AWS ends it (TIMED_OUT) then, whatever state it is in.
* It starts at least once: AWS may run one start twice. ``duplicate_rate`` makes the local stack do so (0 by default;
  the tests that prove a duplicate changes nothing set it).
* Its executions have no history or description to ask for: DescribeExecution, GetExecutionHistory and
  ListExecutions refuse them (what happened is in the state machine's CloudWatch log). Tests read them through
  ``express_history``, the local stand-in for that log.
* Its definition may use neither ``.sync`` nor ``.waitForTaskToken`` integrations (refused at creation).

Docs: https://docs.aws.amazon.com/step-functions/latest/dg/choosing-workflow-type.html
"""

from __future__ import annotations

import datetime
import json
import random
import threading
import uuid
from collections.abc import Callable, Iterator
from typing import Any
from unittest import mock

from moto.core.exceptions import AWSError
from moto.stepfunctions.parser.api import ExecutionStatus
from moto.stepfunctions.parser.backend.execution import BaseExecutionWorkerCommunication
from moto.stepfunctions.parser.models import StepFunctionsParserBackend

EXPRESS_MAX_SECONDS = 300
_TIMED_OUT = "local_stack_express_timed_out"  # set on an execution its time limit ended
_TIMEOUT_CAUSE = "Express executions run at most 5 minutes"
_LONG_RUNNING_PATTERNS = (".sync", ".waitForTaskToken")


class StateMachineTypeNotSupported(AWSError):
    TYPE = "StateMachineTypeNotSupported"

    def __init__(self, operation: str) -> None:
        super().__init__(f"{operation} is not supported by EXPRESS state machines")


def is_express(execution_or_machine: Any) -> bool:
    """moto keeps a state machine's type in ``type`` (its ``sm_type`` says STANDARD whatever the type)."""
    machine = getattr(execution_or_machine, "state_machine", execution_or_machine)
    return str(getattr(machine, "type", "")) == "EXPRESS"


def refused_integrations(definition: dict[str, Any]) -> list[str]:
    """The states of an Express definition that use a pattern Express does not support."""
    found: list[str] = []

    def walk(states: dict[str, Any]) -> None:
        for name, state in states.items():
            resource = str(state.get("Resource", ""))
            if resource.endswith(_LONG_RUNNING_PATTERNS) or ".sync:" in resource:
                found.append(f"{name} ({resource})")
            for branch in state.get("Branches", []):
                walk(branch.get("States", {}))
            processor = state.get("ItemProcessor") or state.get("Iterator")
            if processor:
                walk(processor.get("States", {}))

    walk(definition.get("States", {}))
    return found


def patches(max_seconds: float, duplicate_rate: float, rng: random.Random) -> list[Any]:
    """``max_seconds``: Express's five minutes, as the stack scales its AWS time limits."""
    original_start = StepFunctionsParserBackend.start_execution
    original_describe = StepFunctionsParserBackend.describe_execution
    original_history = StepFunctionsParserBackend.get_execution_history
    original_list = StepFunctionsParserBackend.list_executions
    original_reflect: Callable[[Any], None] = BaseExecutionWorkerCommunication._reflect_execution_status

    def start_execution(
        self: Any, state_machine_arn: str, name: Any = None, execution_input: Any = None, trace_header: Any = None
    ) -> Any:
        execution = original_start(self, state_machine_arn, name, execution_input, trace_header)
        if is_express(execution):
            _limit(execution, max_seconds)
            if duplicate_rate > 0 and rng.random() < duplicate_rate:
                twin = original_start(
                    self,
                    state_machine_arn,
                    f"{execution.name}-again-{uuid.uuid4().hex[:8]}",
                    execution_input,
                    trace_header,
                )
                _limit(twin, max_seconds)
        return execution

    def describe_execution(self: Any, execution_arn: str) -> Any:
        execution = original_describe(self, execution_arn)
        if is_express(execution):
            raise StateMachineTypeNotSupported("DescribeExecution")
        return execution

    def get_execution_history(self: Any, execution_arn: str) -> Any:
        if is_express(original_describe(self, execution_arn)):
            raise StateMachineTypeNotSupported("GetExecutionHistory")
        return original_history(self, execution_arn)

    def list_executions(self: Any, state_machine_arn: str, *args: Any, **kwargs: Any) -> Any:
        if is_express(self.describe_state_machine(state_machine_arn)):
            raise StateMachineTypeNotSupported("ListExecutions")
        return original_list(self, state_machine_arn, *args, **kwargs)

    def reflect_execution_status(communication: Any) -> None:
        # moto ends a stopped execution with whatever its last state did after the stop: a task that was running
        # then fails (its Lambda invocation abandoned) and turns it FAILED. AWS's limit is final: TIMED_OUT.
        original_reflect(communication)
        execution = communication.execution
        if getattr(execution, _TIMED_OUT, False):
            execution.exec_status = ExecutionStatus.TIMED_OUT
            execution.error, execution.cause = "States.Timeout", _TIMEOUT_CAUSE

    return [
        mock.patch.object(BaseExecutionWorkerCommunication, "_reflect_execution_status", reflect_execution_status),
        mock.patch.object(StepFunctionsParserBackend, "start_execution", start_execution),
        mock.patch.object(StepFunctionsParserBackend, "describe_execution", describe_execution),
        mock.patch.object(StepFunctionsParserBackend, "get_execution_history", get_execution_history),
        mock.patch.object(StepFunctionsParserBackend, "list_executions", list_executions),
    ]


def _limit(execution: Any, seconds: float) -> None:
    def time_out() -> None:
        if str(getattr(execution.exec_status, "value", execution.exec_status)) == "RUNNING":
            setattr(execution, _TIMED_OUT, True)
            now = datetime.datetime.now(tz=datetime.UTC)
            execution.stop(stop_date=now, error="States.Timeout", cause=_TIMEOUT_CAUSE)

    timer = threading.Timer(seconds, time_out)
    timer.daemon = True
    timer.start()


def express_history(backend: StepFunctionsParserBackend, state_machine_arn: str) -> Iterator[dict[str, Any]]:
    """Every execution of an Express state machine, with its events: what its CloudWatch log would show at level
    ALL with execution data (the local stack's stand-in for that log)."""
    machine = backend.describe_state_machine(state_machine_arn)
    executions: list[Any] = list(machine.executions)
    for execution in executions:
        worker = execution.exec_worker
        events = worker.env.event_manager.get_event_history() if worker is not None and worker.env else []
        yield {
            "name": execution.name,
            "status": str(getattr(execution.exec_status, "value", execution.exec_status)),
            "input": execution.input_data,
            "events": json.loads(json.dumps(events, default=str)),
        }
