"""The workflow contract, in one place: what the state machine (``statemachines/update_connection.asl.json``) and
the queues pass to each function, and what they get back. Ids and timings only, never secrets (the task token is
the workflow's own handle: it goes to the supervising function and into the update's item, nowhere else).

Execution (name = update id)::

    input  WorkflowInput  {updateId, timeoutSeconds, heartbeatSeconds}
    Supervise   lambda:invoke.waitForTaskToken  payload SuperviseTask {updateId, taskToken}
                -> the task ends when whoever finishes the update sends WorkflowOutput {updateId, status}
    Catch (States.ALL) -> Finalize  lambda:invoke  payload FinalizeTask {updateId, failure: {Error, Cause}}
                -> WorkflowOutput

Queues: the look timer carries ``LookMessage`` (delayed by the poll gap); the schedule queue ``DueConnection``.
"""

from __future__ import annotations

import json
from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from bankupdate.domain import errors
from bankupdate.domain.model import Integration, UpdateStatus

UPDATE_ID_PATTERN = r"^[0-9a-f]{32}$"


class _Message(BaseModel):
    model_config = ConfigDict(
        frozen=True, extra="forbid", alias_generator=to_camel, populate_by_name=True, serialize_by_alias=True
    )


class WorkflowInput(_Message):
    update_id: str = Field(pattern=UPDATE_ID_PATTERN)
    timeout_seconds: int = Field(gt=0)  # the whole update, every authentication round included
    heartbeat_seconds: int = Field(gt=0)  # the longest the update may go without a sign of life


class SuperviseTask(_Message):
    update_id: str = Field(pattern=UPDATE_ID_PATTERN)
    task_token: str = Field(min_length=1, max_length=1024)


class CatchFailure(BaseModel):
    """What a Catch puts at ``$.failure``: the error name and its cause (Lambda's ``errorMessage`` JSON, mostly)."""

    model_config = ConfigDict(frozen=True, extra="ignore", populate_by_name=True)

    error: str = Field("", alias="Error")
    cause: str | None = Field(None, alias="Cause")


class FinalizeTask(_Message):
    update_id: str = Field(pattern=UPDATE_ID_PATTERN)
    failure: CatchFailure | None = None


class WorkflowOutput(_Message):
    update_id: str
    status: UpdateStatus | None  # None: the update was gone


class LookMessage(_Message):
    """One look at finAPI, delayed on the look timer. It carries what a look needs, so a look reads nothing from
    DynamoDB until the update ends (or the workflow needs a sign of life)."""

    update_id: str = Field(pattern=UPDATE_ID_PATTERN)
    owner_id: str = Field(min_length=1, max_length=128)
    connection_id: int = Field(gt=0)
    integration: Integration = Integration.ACCESS
    interface: str | None = None
    upstream_ref: str | None = None
    triggered_at: datetime
    deadline_at: datetime
    wait_for_categorization: bool = False
    start_confirmed: bool = True
    waiting_for_user: bool = False  # Web Form 2.0: the task waits in its web form
    looks: int = Field(0, ge=0)
    alive_at: datetime  # the last sign of life the workflow got (heartbeats are sent from it)
    chain: bool = True  # False: a one-off look (a callback); it never schedules another


class DueConnection(_Message):
    owner_id: str = Field(min_length=1, max_length=128)
    connection_id: int = Field(gt=0)
    slot: datetime


# --------------------------------------------------------------------------------------------- failures


class FailureKind(StrEnum):
    TIMED_OUT = "TIMED_OUT"  # the task's TimeoutSeconds: the whole update took too long
    SILENT = "SILENT"  # the task's heartbeat: nobody advanced the update for too long
    WORKER_DIED = "WORKER_DIED"  # the supervising Lambda itself failed (timeout, crash)
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
    "CatchFailure",
    "DueConnection",
    "FailureKind",
    "FinalizeTask",
    "LookMessage",
    "SuperviseTask",
    "WorkflowInput",
    "WorkflowOutput",
    "error_from_failure",
    "failure_kind",
]
