"""``Workflow`` played by hand, as ``statemachines/update_connection.asl.json`` moves: the update's execution sits in
one task at a time (Poll, AwaitUser, AwaitCallback, WaitLonger, then Finalize when a test makes a task fail), each
with its own token; the port's calls move it the way the ASL's Next, Catch and Retry do. A Poll task's poll loop is
not run here: its start is queued (``take_loop``) for the test system to run, as Express would. A closed or unknown
token is refused (False), as Step Functions refuses it and the adapter reports."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from bankupdate.contract import (
    CatchFailure,
    HandBack,
    HandBackDetail,
    PollLoopState,
    WaitingTask,
    WorkflowInput,
    WorkflowOutput,
)
from bankupdate.ports import ExecutionState
from tests.fakes.clock import ManualClock

STATE_MACHINE_ARN = "arn:aws:states:eu-central-1:123456789012:stateMachine:UpdateConnection"
_ENDED_BADLY = frozenset({"FAILED", "TIMED_OUT", "ABORTED"})
_HAND_BACK_STATES = {
    HandBack.USER_NEEDED: ("AwaitUser",),
    HandBack.WAIT_LONGER: ("ReadWait", "WaitLonger"),
    HandBack.AWAIT_CALLBACK: ("ReadCallbackWait", "AwaitCallback"),
}


@dataclass
class Task:
    state: str  # the ASL state the execution is in
    token: str
    entered_at: datetime
    ends_at: datetime | None = None  # WaitLonger's end; AwaitUser's and AwaitCallback's timeout
    parked: bool = False  # ParkTaskToken ran for this wait (the system runs it once per wait)
    open: bool = True


@dataclass
class Execution:
    update_id: str
    payload: WorkflowInput
    started_at: datetime
    task: Task
    status: str = "RUNNING"  # then SUCCEEDED, FAILED, TIMED_OUT or ABORTED
    stopped_at: datetime | None = None
    output: WorkflowOutput | None = None
    states: list[str] = field(default_factory=list)  # every state entered, in order
    loops: list[PollLoopState] = field(default_factory=list)  # loop starts not yet run
    hand_backs: list[tuple[HandBack, HandBackDetail]] = field(default_factory=list)
    keep_alives: int = 0
    catches: list[CatchFailure] = field(default_factory=list)


class FakeWorkflow:
    def __init__(self, clock: ManualClock) -> None:
        self._clock = clock
        self._lock = threading.RLock()
        self.executions: dict[str, Execution] = {}
        self.starts: list[WorkflowInput] = []  # every start asked for, repeats included
        self.keep_alives: list[str] = []
        self.releases: list[tuple[str, WorkflowOutput]] = []  # accepted releases only
        self.resumes: list[str] = []  # accepted resumes only (tokens)
        self.refused: list[str] = []  # tokens a call was refused for
        self.start_error: Exception | None = None  # set: Step Functions refuses to start (throttled, down)
        self.list_error: Exception | None = None  # set: Step Functions refuses to list executions
        self.state_reads = 0  # DescribeExecution calls

    # ------------------------------------------------------------------------------------------ the port

    def execution_arn(self, update_id: str) -> str:
        return STATE_MACHINE_ARN.replace(":stateMachine:", ":execution:") + f":{update_id}"

    def start(self, payload: WorkflowInput, *, retry_throttles: bool = True) -> bool:
        if self.start_error is not None:
            raise self.start_error
        with self._lock:
            self.starts.append(payload)
            existing = self.executions.get(payload.update_id)
            if existing is not None:  # Step Functions: a repeat of a running start succeeds, anything else is refused
                return existing.status == "RUNNING" and existing.payload == payload
            execution = Execution(payload.update_id, payload, self._clock.now(), self._new_task("Poll"))
            self.executions[payload.update_id] = execution
            self._enter_poll(execution)
            return True

    def state(self, update_id: str) -> ExecutionState:
        with self._lock:
            self.state_reads += 1
            execution = self.executions.get(update_id)
        if execution is None:
            return ExecutionState.MISSING
        return ExecutionState.RUNNING if execution.status == "RUNNING" else ExecutionState.ENDED

    def keep_alive(self, task_token: str) -> bool:
        with self._lock:
            execution = self._open_task(task_token)
            if execution is None:
                return self._refuse(task_token)
            execution.keep_alives += 1
            self.keep_alives.append(task_token)
            return True

    def release(self, task_token: str, output: WorkflowOutput) -> bool:
        with self._lock:
            execution = self._open_task(task_token)
            if execution is None:
                return self._refuse(task_token)
            self.releases.append((task_token, output))
            self._task_succeeded(execution, output)
            return True

    def resume(self, task_token: str, update_id: str) -> bool:
        with self._lock:
            execution = self._open_task(task_token)
            if execution is None:
                return self._refuse(task_token)
            self.resumes.append(task_token)
            self._task_succeeded(execution, None)
            return True

    def hand_back(self, task_token: str, reason: HandBack, detail: HandBackDetail) -> bool:
        with self._lock:
            execution = self._open_task(task_token)
            if execution is None:
                return self._refuse(task_token)
            if execution.task.state != "Poll":  # SendTaskFailure to another task: its Catch sends it to Finalize
                self._fail_task(execution, reason.value)
                return True
            execution.hand_backs.append((reason, detail))
            *passes, wait_state = _HAND_BACK_STATES[reason]
            execution.states += passes
            task = self._new_task(wait_state)
            if reason is HandBack.USER_NEEDED:
                task.ends_at = task.entered_at + timedelta(seconds=execution.payload.await_user_seconds)
            else:
                task.ends_at = task.entered_at + timedelta(seconds=detail.wait_seconds)
            self._enter(execution, task)
            return True

    def recently_failed(self, *, stopped_since: datetime, started_since: datetime) -> Iterator[str]:
        # ``started_since`` only bounds how far the adapter pages back through Step Functions' list; it filters
        # nothing the adapter would yield, so the fake ignores it.
        if self.list_error is not None:
            raise self.list_error
        with self._lock:
            failed = [
                e.update_id
                for e in self.executions.values()
                if e.status in _ENDED_BADLY and e.stopped_at is not None and e.stopped_at >= stopped_since
            ]
        yield from failed

    # ------------------------------------------------------------------------------------------ the state machine

    def _new_task(self, state: str) -> Task:
        return Task(state, f"{state}.{uuid.uuid4().hex}", self._clock.now())

    def _enter(self, execution: Execution, task: Task) -> None:
        execution.task = task
        execution.states.append(task.state)

    def _enter_poll(self, execution: Execution) -> None:
        task = self._new_task("Poll")
        self._enter(execution, task)
        entered = f"{task.entered_at.isoformat()}/0"
        execution.loops.append(
            PollLoopState(
                update_id=execution.update_id, parent_token=task.token, poll_task_entered_at=entered, gap_seconds=1
            )
        )

    def _task_succeeded(self, execution: Execution, output: WorkflowOutput | None) -> None:
        execution.task.open = False
        if execution.task.state == "Poll":  # End: the execution's output is the task's
            self._end(execution, "SUCCEEDED", output)
        else:  # AwaitUser, AwaitCallback: Next is Poll
            self._enter_poll(execution)

    def _fail_task(self, execution: Execution, error: str) -> None:
        execution.task.open = False
        execution.catches.append(CatchFailure.model_validate({"Error": error}))
        self._enter(execution, Task("Finalize", "", self._clock.now(), open=False))

    def _end(self, execution: Execution, status: str, output: WorkflowOutput | None = None) -> None:
        execution.task.open = False
        execution.status = status
        execution.stopped_at = self._clock.now()
        execution.output = output
        execution.loops.clear()

    def _open_task(self, task_token: str) -> Execution | None:
        for execution in self.executions.values():
            task = execution.task
            if task.token == task_token:
                return execution if task.open and execution.status == "RUNNING" else None
        return None

    def _refuse(self, task_token: str) -> bool:
        self.refused.append(task_token)
        return False

    # ------------------------------------------------------------------------------------------ for the test system

    def task_of(self, update_id: str) -> Task:
        with self._lock:
            return self.executions[update_id].task

    def token_of(self, update_id: str) -> str:
        return self.task_of(update_id).token

    def take_loop(self, update_id: str) -> PollLoopState | None:
        """The next poll loop Step Functions started for the update (None: none is waiting to run)."""
        with self._lock:
            execution = self.executions.get(update_id)
            return execution.loops.pop(0) if execution is not None and execution.loops else None

    def wait_over(self, update_id: str) -> None:
        """WaitLonger's time is up, or an AwaitUser/AwaitCallback task timed out (its Catch: States.Timeout -> Poll)."""
        with self._lock:
            execution = self.executions[update_id]
            assert execution.task.state in ("WaitLonger", "AwaitUser", "AwaitCallback"), execution.task.state
            execution.task.open = False
            self._enter_poll(execution)

    def catch(self, update_id: str, error: str, cause: str | None = None) -> CatchFailure:
        """The current task fails, times out or falls silent: its token closes and the Catch hands the failure to
        Finalize (the execution runs on, in Finalize)."""
        failure = CatchFailure.model_validate({"Error": error, "Cause": cause})
        with self._lock:
            execution = self.executions[update_id]
            execution.task.open = False
            execution.catches.append(failure)
            execution.loops.clear()
            self._enter(execution, Task("Finalize", "", self._clock.now(), open=False))
        return failure

    def end(self, update_id: str, status: str, output: WorkflowOutput | None = None) -> None:
        """The execution ends: SUCCEEDED after Finalize, FAILED when Finalize kept failing, ABORTED by an operator."""
        with self._lock:
            self._end(self.executions[update_id], status, output)

    def is_open(self, update_id: str) -> bool:
        with self._lock:
            execution = self.executions.get(update_id)
            return execution is not None and execution.task.open and execution.status == "RUNNING"

    def waiting(self, update_id: str) -> WaitingTask | None:
        """Which wait the execution is in (None: none of the token waits)."""
        state = self.task_of(update_id).state
        return {"Poll": WaitingTask.POLL, "AwaitUser": WaitingTask.USER, "AwaitCallback": WaitingTask.CALLBACK}.get(
            state
        )
