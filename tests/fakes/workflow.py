"""``Workflow`` played by hand: each started execution is at its supervising task, whose token the test hands to
SuperviseUpdate as Step Functions would. Starts, signs of life and releases are recorded; a closed or unknown token
is refused (False), as Step Functions refuses it and the adapter reports."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime

from bankupdate.contract import CatchFailure, WorkflowInput, WorkflowOutput
from bankupdate.ports import ExecutionState
from tests.fakes.clock import ManualClock

STATE_MACHINE_ARN = "arn:aws:states:eu-central-1:123456789012:stateMachine:UpdateConnection"
_ENDED_BADLY = frozenset({"FAILED", "TIMED_OUT", "ABORTED"})


@dataclass
class Execution:
    update_id: str
    payload: WorkflowInput
    started_at: datetime
    task_token: str
    task_open: bool = True
    status: str = "RUNNING"  # then SUCCEEDED, FAILED, TIMED_OUT or ABORTED
    stopped_at: datetime | None = None
    output: WorkflowOutput | None = None
    keep_alives: int = 0
    catches: list[CatchFailure] = field(default_factory=list)


class FakeWorkflow:
    def __init__(self, clock: ManualClock) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self.executions: dict[str, Execution] = {}
        self.starts: list[WorkflowInput] = []  # every start asked for, repeats included
        self.keep_alives: list[str] = []
        self.signs_of_life: dict[str, list[datetime]] = {}  # per update: when its task heard from it (accepted)
        self.releases: list[tuple[str, WorkflowOutput]] = []  # accepted releases only
        self.refused: list[str] = []  # tokens a keep-alive or release was refused for
        self.start_error: Exception | None = None  # set: Step Functions refuses to start (throttled, down)

    # ------------------------------------------------------------------------------------------ the port

    def execution_arn(self, update_id: str) -> str:
        return STATE_MACHINE_ARN.replace(":stateMachine:", ":execution:") + f":{update_id}"

    def start(self, payload: WorkflowInput) -> None:
        if self.start_error is not None:
            raise self.start_error
        with self._lock:
            self.starts.append(payload)
            if payload.update_id not in self.executions:
                token = f"{payload.update_id}.{uuid.uuid4().hex}"
                self.executions[payload.update_id] = Execution(payload.update_id, payload, self._clock.now(), token)

    def state(self, update_id: str) -> ExecutionState:
        with self._lock:
            execution = self.executions.get(update_id)
        if execution is None:
            return ExecutionState.MISSING
        return ExecutionState.RUNNING if execution.status == "RUNNING" else ExecutionState.ENDED

    def keep_alive(self, task_token: str) -> bool:
        with self._lock:
            execution = self._open_task(task_token)
            if execution is None:
                self.refused.append(task_token)
                return False
            execution.keep_alives += 1
            self.keep_alives.append(task_token)
            self.signs_of_life.setdefault(execution.update_id, []).append(self._clock.now())
            return True

    def release(self, task_token: str, output: WorkflowOutput) -> bool:
        with self._lock:
            execution = self._open_task(task_token)
            if execution is None:
                self.refused.append(task_token)
                return False
            execution.task_open = False
            execution.output = output
            execution.status = "SUCCEEDED"
            execution.stopped_at = self._clock.now()
            self.releases.append((task_token, output))
            return True

    def recently_failed(self, *, stopped_since: datetime, started_since: datetime) -> Iterator[str]:
        # ``started_since`` only bounds how far the adapter pages back through Step Functions' list; it filters
        # nothing the adapter would yield, so the fake ignores it.
        with self._lock:
            failed = [
                e.update_id
                for e in self.executions.values()
                if e.status in _ENDED_BADLY and e.stopped_at is not None and e.stopped_at >= stopped_since
            ]
        yield from failed

    def _open_task(self, task_token: str) -> Execution | None:
        for execution in self.executions.values():
            if execution.task_token == task_token:
                return execution if execution.task_open and execution.status == "RUNNING" else None
        return None

    # ------------------------------------------------------------------------------------------ the state machine

    def token_of(self, update_id: str) -> str:
        """The supervising task's token, as Step Functions passes it to SuperviseUpdate."""
        with self._lock:
            return self.executions[update_id].task_token

    def catch(self, update_id: str, error: str, cause: str | None = None) -> CatchFailure:
        """The supervising task fails, times out or falls silent: its token closes and the Catch hands the failure
        to Finalize (the execution runs on, in Finalize)."""
        failure = CatchFailure.model_validate({"Error": error, "Cause": cause})
        with self._lock:
            execution = self.executions[update_id]
            execution.task_open = False
            execution.catches.append(failure)
        return failure

    def end(self, update_id: str, status: str) -> None:
        """The execution ends: SUCCEEDED after Finalize, FAILED when Finalize kept failing, ABORTED by an operator."""
        with self._lock:
            execution = self.executions[update_id]
            execution.task_open = False
            execution.status = status
            execution.stopped_at = self._clock.now()

    def is_open(self, update_id: str) -> bool:
        with self._lock:
            execution = self.executions.get(update_id)
            return execution is not None and execution.task_open and execution.status == "RUNNING"
