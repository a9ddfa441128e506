"""The workflow contract, in one place: what the state machines (``statemachines/``) and the queues pass to each
function, and what they get back. Ids, statuses and timings only, never secrets (a task token is the workflow's own
handle: it travels to the functions that end or resume its task, and onto the update's item, nowhere else).

UpdateConnection, Standard (execution name = update id; decision D26)::

    input   WorkflowInput {updateId, timeoutSeconds, heartbeatSeconds, pollHeartbeatSeconds, awaitUserSeconds,
                           pollCoolDownSeconds}
    Poll          states:startExecution.waitForTaskToken -> PollLoop, input PollLoopState (parentToken = its token)
                  the task ends with SendTaskSuccess WorkflowOutput {updateId, status, polls}: the update is finished;
                  or SendTaskFailure HandBack (error) with HandBackDetail (cause): the update waits elsewhere
    Catch UserNeeded      -> AwaitUser      lambda:invoke.waitForTaskToken ParkTaskToken ParkTask {purpose USER}
    Catch WaitLonger      -> ReadWait -> WaitLonger (Wait, SecondsPath = HandBackDetail.waitSeconds) -> Poll
    Catch AwaitCallback   -> ReadCallbackWait -> AwaitCallback  lambda:invoke.waitForTaskToken ParkTaskToken
                             ParkTask {purpose CALLBACK} (TimeoutSecondsPath = HandBackDetail.waitSeconds) -> Poll
    Catch States.ALL      -> Finalize       lambda:invoke FinalizeTask {updateId, failure} -> WorkflowOutput

PollLoop, Express (at most five minutes; started at least once)::

    Wait (SecondsPath $.gapSeconds) -> Poll (lambda:invoke PollUpdateStatus, PollRequest) -> Decide (Choice on
    $.next): POLL -> Wait | CONTINUE -> Continue (states:startExecution of this loop, input = the state) | Default
    -> Done;  Catch Lambda.TooManyRequestsException -> CoolDown (gapSeconds = $.coolDownSeconds) -> Continue;
    Catch States.ALL -> GiveUp (lambda:invoke Finalize, FinalizeTask with parentToken)

The schedule queue carries ``DueConnection``.
"""

from __future__ import annotations

import json
from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from bankupdate.domain import errors
from bankupdate.domain.backoff import COOL_DOWN_SECONDS
from bankupdate.domain.model import UpdateStatus
from bankupdate.domain.upstream import PollTarget

UPDATE_ID_PATTERN = r"^[0-9a-f]{32}$"
# Step Functions task tokens are 1 to 2,048 characters (SendTaskSuccess, SendTaskFailure, SendTaskHeartbeat).
TASK_TOKEN_MAX_LENGTH = 2048
# A loop's state keeps the story of its update's polls for the execution history; past this many, the oldest go.
POLL_HISTORY_LIMIT = 60


class _Message(BaseModel):
    model_config = ConfigDict(
        frozen=True, extra="forbid", alias_generator=to_camel, populate_by_name=True, serialize_by_alias=True
    )


TaskToken = Field(min_length=1, max_length=TASK_TOKEN_MAX_LENGTH)


class WorkflowInput(_Message):
    update_id: str = Field(pattern=UPDATE_ID_PATTERN)
    timeout_seconds: int = Field(gt=0)  # any one task of the update, and so the update's whole length
    heartbeat_seconds: int = Field(gt=0)  # the longest a wait for the user (or a callback) may go without a sign
    poll_heartbeat_seconds: int = Field(gt=0)  # the longest a poll loop may go without a sign of life
    await_user_seconds: int = Field(gt=0)  # a wait for the user ends after this and polls (Web Form's fallback)
    poll_cool_down_seconds: int = Field(gt=0)  # a poll Lambda refused past the loop's Retry: polled again after this


class WaitingTask(StrEnum):
    """Which of the workflow's tasks holds the token parked on an update."""

    POLL = "POLL"  # the Poll task: its loop ends it (or Finalize); nobody else resumes it
    USER = "USER"  # AwaitUser: the user's answer (or finAPI's callback) resumes it
    CALLBACK = "CALLBACK"  # AwaitCallback: finAPI's callback resumes it


class ParkTask(_Message):
    update_id: str = Field(pattern=UPDATE_ID_PATTERN)
    task_token: str = TaskToken
    purpose: WaitingTask


class HandBack(StrEnum):
    """The errors a poll loop ends its Poll task with when the update must wait outside the loop."""

    USER_NEEDED = "UserNeeded"
    WAIT_LONGER = "WaitLonger"
    AWAIT_CALLBACK = "AwaitCallback"


class PollEntry(_Message):
    """One poll, as the execution history shows it."""

    at: datetime
    saw: str  # what finAPI reported (updateStatus, the Web Form task's status), or the error it ended in
    wait_seconds: int | None = None  # the gap chosen after it (None: the loop ended there)


class PollNext(StrEnum):
    POLL = "POLL"
    CONTINUE = "CONTINUE"
    DONE = "DONE"


class PollLoopState(_Message):
    """What the poll loop carries from one poll to the next (the Express execution's state)."""

    update_id: str = Field(pattern=UPDATE_ID_PATTERN)
    parent_token: str = TaskToken
    poll_task_entered_at: str = Field(min_length=1, max_length=64)  # orders the Poll tasks of one execution
    gap_seconds: int = Field(ge=0)
    # The CoolDown's gap (the workflow's input carries it from the settings); a loop state from before the field
    # existed (a deployment while loops run) gets the default, the value the ASL used to hold
    cool_down_seconds: int = Field(COOL_DOWN_SECONDS, gt=0)
    next: PollNext = PollNext.POLL
    execution: str | None = None  # the loop execution this state belongs to (a new one claims the polls)
    loop_id: str | None = None  # this loop's claim on the update's polls
    target: PollTarget | None = None
    polls: int = Field(0, ge=0)
    history: tuple[PollEntry, ...] = ()
    alive_at: datetime | None = None  # the last sign of life the Poll task got
    # Links a loop to the update's execution in the console; a loop's successor is not started by that execution.
    started_by: str | None = Field(None, alias="AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID", exclude=True)


class PollRequest(_Message):
    loop: PollLoopState
    execution: str = Field(min_length=1)  # $$.Execution.Id
    execution_started_at: datetime  # $$.Execution.StartTime


class HandBackDetail(_Message):
    """The cause of a hand-back: when to poll again, and the polls so far (for the history)."""

    update_id: str
    wait_seconds: int = Field(ge=0)
    polls: tuple[PollEntry, ...] = ()


class CatchFailure(BaseModel):
    """What a Catch puts at ``$.failure``: the error name and its cause (Lambda's ``errorMessage`` JSON, mostly)."""

    model_config = ConfigDict(frozen=True, extra="ignore", populate_by_name=True)

    error: str = Field("", alias="Error")
    cause: str | None = Field(None, alias="Cause")


class FinalizeTask(_Message):
    update_id: str = Field(pattern=UPDATE_ID_PATTERN)
    failure: CatchFailure | None = None
    parent_token: str | None = Field(None, min_length=1, max_length=TASK_TOKEN_MAX_LENGTH)  # from a poll loop


class WorkflowOutput(_Message):
    update_id: str
    status: UpdateStatus | None  # None: the update was gone
    polls: tuple[PollEntry, ...] = ()


class DueConnection(_Message):
    owner_id: str = Field(min_length=1, max_length=128)
    connection_id: int = Field(gt=0)
    slot: datetime


# --------------------------------------------------------------------------------------------- failures


class FailureKind(StrEnum):
    TIMED_OUT = "TIMED_OUT"  # a task's TimeoutSeconds: the update took too long
    SILENT = "SILENT"  # a task's heartbeat: nobody advanced the update for too long
    WORKER_DIED = "WORKER_DIED"  # a function or the poll loop itself failed (timeout, crash)
    DOMAIN = "DOMAIN"  # one of our errors, by class name


def _catalogue() -> dict[str, type[errors.BankUpdateError]]:
    found: dict[str, type[errors.BankUpdateError]] = {}
    for value in vars(errors).values():
        if isinstance(value, type) and issubclass(value, errors.BankUpdateError):
            found[value.__name__] = value
    return found


_BY_NAME = _catalogue()


def _message_from(cause: str | None) -> str:
    if not cause:
        return "no details"
    try:
        parsed = json.loads(cause)
    except ValueError:
        return cause[:500]
    if isinstance(parsed, dict):
        return str(parsed.get("errorMessage", cause))[:500]
    return cause[:500]


def failure_kind(failure: CatchFailure) -> FailureKind:
    if failure.error == "States.Timeout":
        return FailureKind.TIMED_OUT
    if failure.error == "States.HeartbeatTimeout":
        return FailureKind.SILENT
    if failure.error in _BY_NAME:
        return FailureKind.DOMAIN
    return FailureKind.WORKER_DIED


def error_from_failure(failure: CatchFailure, status: UpdateStatus) -> errors.BankUpdateError:
    """The domain error a workflow failure means for an update that stood at ``status`` when it happened: silence
    while the user was asked is the user not answering; silence while downloading is a lost track."""
    kind = failure_kind(failure)
    detail = _message_from(failure.cause)
    if kind is FailureKind.DOMAIN:
        return _BY_NAME[failure.error](detail)
    waiting_for_user = status is UpdateStatus.AUTHENTICATION_REQUIRED
    if kind is FailureKind.TIMED_OUT:
        if waiting_for_user:
            return errors.AuthenticationExpired("the user did not complete the bank's authentication in time")
        return errors.UpdateTimedOut("the update did not finish within its time limit")
    if kind is FailureKind.SILENT:
        if waiting_for_user:
            return errors.AuthenticationExpired("the user did not answer the bank's challenge in time")
        return errors.UpdateStalled(f"no progress was reported for the update ({failure.error})")
    return errors.UpdateStalled(f"the workflow's worker failed with {failure.error or 'an unknown error'}: {detail}")


__all__ = [
    "POLL_HISTORY_LIMIT",
    "TASK_TOKEN_MAX_LENGTH",
    "CatchFailure",
    "DueConnection",
    "FailureKind",
    "FinalizeTask",
    "HandBack",
    "HandBackDetail",
    "ParkTask",
    "PollEntry",
    "PollLoopState",
    "PollNext",
    "PollRequest",
    "WaitingTask",
    "WorkflowInput",
    "WorkflowOutput",
    "error_from_failure",
    "failure_kind",
]
