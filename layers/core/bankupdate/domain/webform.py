"""Where a Web Form 2.0 background update stands, from finAPI's task and web form (finAPI reference section 5).

The task runs the update without the user; when the bank needs the user it waits in ``WEB_FORM_REQUIRED`` with a web
form the user completes at finAPI. Callbacks only say "poll again": the verdict always comes from what finAPI answers
to ``GET /api/tasks/{id}`` (and ``GET /api/webForms/{id}`` for the form's expiry and final status).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict

from bankupdate.domain.errors import (
    AuthenticationExpired,
    BankRejected,
    BankUpdateError,
    DownloadFailed,
    UpdateTimedOut,
    UpstreamAuthFailed,
    UpstreamRejectedRequest,
    UpstreamUnavailable,
    WebFormAborted,
)
from bankupdate.domain.model import Challenge, ChallengeStatus
from bankupdate.domain.polling import CLOCK_SKEW, ConnectionSnapshot


class WebFormSnapshot(BaseModel):
    model_config = ConfigDict(frozen=True)

    form_id: str
    url: str | None  # None: finAPI named an address no browser of ours is sent to (domain.urls.LinkPolicy)
    status: str
    expires_at: datetime | None = None
    error_code: str | None = None


class TaskSnapshot(BaseModel):
    model_config = ConfigDict(frozen=True)

    task_id: str
    status: str
    error_code: str | None = None
    web_form: WebFormSnapshot | None = None


class TaskVerdict(StrEnum):
    RUNNING = "RUNNING"
    NEEDS_USER = "NEEDS_USER"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"


@dataclass(frozen=True)
class TaskDecision:
    verdict: TaskVerdict
    challenge: Challenge | None = None
    error: BankUpdateError | None = None


_OPEN_FORM = frozenset({"NOT_YET_OPENED", "IN_PROGRESS"})


def error_for_code(code: str | None, *, action_url: str | None = None) -> BankUpdateError:
    """finAPI's ``errorCode`` of a task or web form, as one of our errors (the enum may grow: unknown codes are
    treated as finAPI's own ``INTERNAL_ERROR``)."""
    message = f"finAPI ended the Web Form 2.0 update with {code or 'no error code'}"
    if code == "BANK_SERVER_REJECTION":
        return BankRejected(message, upstream_code=code, action_url=action_url)
    if code == "INVALID_TOKEN":
        return UpstreamAuthFailed(message, upstream_code=code)
    if code in ("MANDATOR_MISCONFIGURATION", "UNDETERMINED_BANK", "ENTITY_EXISTS", "UNSUPPORTED_FEATURE"):
        return UpstreamRejectedRequest(message, upstream_code=code)
    if code == "NO_ACCOUNTS_FOR_TYPE_LIST":
        return DownloadFailed(message, upstream_code=code)
    if code == "INTERRUPTED":
        return WebFormAborted(message + " (the form was reloaded or opened twice)", upstream_code=code)
    return UpstreamUnavailable(message, upstream_code=code or "INTERNAL_ERROR")


def quoting_the_bank(error: BankUpdateError, connection: ConnectionSnapshot, *, since: datetime) -> BankUpdateError:
    """A ``BANK_SERVER_REJECTION`` with the bank's own words. finAPI's task and web form carry only the code; the
    bank's message ("Die TAN war mehrfach falsch ...") is on the connection in Access, in the interface's update
    result the web form's login wrote (since the update started). Any other error, or none found: as it was."""
    if not isinstance(error, BankRejected):
        return error
    results = [
        result
        for interface in connection.interfaces
        for result in (interface.last_manual_update, interface.last_auto_update)
        if result is not None
        and result.result == "BANK_SERVER_REJECTION"
        and result.error_message
        and result.timestamp >= since - CLOCK_SKEW
    ]
    if not results:
        return error
    said = max(results, key=lambda result: result.timestamp).error_message
    return BankRejected(
        f"{error.message}: {said}",
        user_message=said,
        upstream_code=error.upstream_code,
        action_url=error.action_url,
    )


def web_form_challenge(form: WebFormSnapshot) -> Challenge:
    return Challenge(
        status=ChallengeStatus.WEB_FORM_REQUIRED,
        message="Please confirm the update in your bank's form.",
        web_form_url=form.url,
        web_form_expires_at=form.expires_at,
    )


def decide_task(task: TaskSnapshot, *, deadline_at: datetime, now: datetime, waiting_for_user: bool) -> TaskDecision:
    """``waiting_for_user``: the update already shows the web form (its own window bounds it, not the deadline)."""
    status = task.status
    if status == "COMPLETED":
        return TaskDecision(TaskVerdict.COMPLETED)
    if status == "COMPLETED_WITH_ERROR":
        form = task.web_form
        if form is not None and form.status == "ABORTED":
            return TaskDecision(TaskVerdict.FAILED, error=WebFormAborted("the user cancelled finAPI's web form"))
        if form is not None and form.status == "EXPIRED":
            return TaskDecision(TaskVerdict.FAILED, error=AuthenticationExpired("finAPI's web form expired"))
        code = task.error_code or (form.error_code if form else None)
        return TaskDecision(TaskVerdict.FAILED, error=error_for_code(code))
    if status == "WEB_FORM_REQUIRED" and task.web_form is not None:
        form = task.web_form
        if form.status == "ABORTED":
            return TaskDecision(TaskVerdict.FAILED, error=WebFormAborted("the user cancelled finAPI's web form"))
        if form.status == "EXPIRED":
            # Only finAPI's word counts: a form the user is still in (or whose download runs) may outlast its expiresAt
            return TaskDecision(TaskVerdict.FAILED, error=AuthenticationExpired("finAPI's web form expired"))
        if form.status == "COMPLETED_WITH_ERROR":
            return TaskDecision(TaskVerdict.FAILED, error=error_for_code(form.error_code, action_url=form.url))
        if form.status in _OPEN_FORM:
            return TaskDecision(TaskVerdict.NEEDS_USER, challenge=web_form_challenge(form))
        return TaskDecision(TaskVerdict.RUNNING)  # the form is done; the task continues in the background
    if not waiting_for_user and now >= deadline_at:
        return TaskDecision(TaskVerdict.FAILED, error=UpdateTimedOut(f"task {task.task_id} still {status}"))
    return TaskDecision(TaskVerdict.RUNNING)
