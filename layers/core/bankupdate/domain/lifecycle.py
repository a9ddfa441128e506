"""An update's life: its states and the only ways to move between them.

::

    PENDING --accepted--> IN_PROGRESS --succeeded | fail--> (outcome recorded) --finish--> SUCCEEDED | FAILED | EXPIRED
       |                     ^   |
       |                     |   +--needs_user (Web Form 2.0: the background update needs the user)
       +--needs_user--> AUTHENTICATION_REQUIRED --accepted--+  (or needs_user again: the bank's next round)

Every transition returns the new record and the step that must follow it; nothing else in the code base changes an
update's status. Failures travel one way: ``fail`` records the error on the record, ``finish`` turns the recorded
outcome into the terminal status. Transitions that do not fit the record's state raise ``IllegalTransition``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from bankupdate.domain.errors import (
    AuthenticationExpired,
    BankUpdateError,
    DownloadFailed,
    TooManyAuthenticationRounds,
    UpdateError,
    UserActionRequired,
)
from bankupdate.domain.model import (
    Challenge,
    ChallengeStatus,
    Integration,
    UpdateMode,
    UpdateOptions,
    UpdateRecord,
    UpdateResult,
    UpdateStatus,
)

# A repeated challenge of these kinds is the bank waiting, not the bank refusing what it got.
_REPEATS_WITHOUT_REJECTION = frozenset({ChallengeStatus.DECOUPLED_AUTH_IN_PROGRESS, ChallengeStatus.WEB_FORM_REQUIRED})
_NO_OUTCOME = BankUpdateError("the update ended without an outcome").to_update_error()


class Next(StrEnum):
    AWAIT_USER = "AWAIT_USER"  # the challenge is shown; the user's answer (or finAPI's web form) continues
    POLL = "POLL"  # finAPI runs the download: the workflow polls it
    FINISH = "FINISH"  # end the update: terminal status, connection health, lock, events


@dataclass(frozen=True)
class Step:
    next: Next


@dataclass(frozen=True)
class Transition:
    record: UpdateRecord
    step: Step


@dataclass(frozen=True)
class Timing:
    """The bounds an update lives within (from the deployment's settings)."""

    deadline_seconds: int
    auth_window_seconds: int
    max_auth_rounds: int = 10


class IllegalTransition(Exception):
    """A transition was asked of an update in a state it cannot leave that way (a bug, or a stale record)."""


def _require(record: UpdateRecord, allowed: frozenset[UpdateStatus], transition: str) -> None:
    if record.status not in allowed:
        raise IllegalTransition(f"{transition} is not possible for update {record.update_id} in {record.status.value}")


_STARTED = frozenset({UpdateStatus.PENDING, UpdateStatus.AUTHENTICATION_REQUIRED})
_WAITING_FOR_UPSTREAM = frozenset(
    {UpdateStatus.PENDING, UpdateStatus.AUTHENTICATION_REQUIRED, UpdateStatus.IN_PROGRESS}
)
_OPEN = frozenset({UpdateStatus.PENDING, UpdateStatus.IN_PROGRESS, UpdateStatus.AUTHENTICATION_REQUIRED})


def new_user_present(
    *,
    update_id: str,
    owner_id: str,
    connection_id: int,
    options: UpdateOptions,
    integration: Integration,
    known_account_ids: tuple[int, ...],
    execution_arn: str,
    now: datetime,
    timing: Timing,
) -> UpdateRecord:
    """A user-present update, recorded before finAPI is called (a crash after the call leaves a trace to recover)."""
    return UpdateRecord(
        update_id=update_id,
        owner_id=owner_id,
        connection_id=connection_id,
        mode=UpdateMode.USER_PRESENT,
        status=UpdateStatus.PENDING,
        integration=integration,
        options=options,
        created_at=now,
        updated_at=now,
        triggered_at=now,
        finapi_called_at=now,
        deadline_at=now + timedelta(seconds=timing.deadline_seconds),
        known_account_ids=known_account_ids,
        execution_arn=execution_arn,
    )


def new_unattended(
    *,
    update_id: str,
    owner_id: str,
    connection_id: int,
    integration: Integration,
    known_account_ids: tuple[int, ...],
    execution_arn: str,
    now: datetime,
) -> UpdateRecord:
    """A scheduled update: finAPI is called later, by the workflow, once the lock and the day's budget are taken."""
    return UpdateRecord(
        update_id=update_id,
        owner_id=owner_id,
        connection_id=connection_id,
        mode=UpdateMode.UNATTENDED,
        status=UpdateStatus.PENDING,
        integration=integration,
        created_at=now,
        updated_at=now,
        known_account_ids=known_account_ids,
        execution_arn=execution_arn,
    )


def calling_upstream(record: UpdateRecord, now: datetime, timing: Timing) -> UpdateRecord:
    """Mark the moment finAPI is called: from here on a retry must never call the (non-idempotent) update again."""
    _require(record, frozenset({UpdateStatus.PENDING}), "calling finAPI")
    return record.model_copy(
        update={
            "finapi_called_at": now,
            "triggered_at": now,
            "deadline_at": now + timedelta(seconds=timing.deadline_seconds),
            "updated_at": now,
        }
    )


def accepted(
    record: UpdateRecord, now: datetime, timing: Timing, *, confirmed: bool = True, upstream_ref: str | None = None
) -> Transition:
    """finAPI started the download (or may have: ``confirmed=False`` when its answer was lost). The deadline counts
    from here, so time the user spent on authentication does not eat the download's budget."""
    _require(record, _STARTED, "accepting the update")
    running = record.model_copy(
        update={
            "status": UpdateStatus.IN_PROGRESS,
            "start_confirmed": confirmed,
            "upstream_ref": upstream_ref or record.upstream_ref,
            "challenge": None,
            "auth_window_ends_at": None,
            "triggered_at": now,
            "deadline_at": now + timedelta(seconds=timing.deadline_seconds),
            "updated_at": now,
        }
    )
    return Transition(running, Step(Next.POLL))


def needs_user(record: UpdateRecord, challenge: Challenge, now: datetime, timing: Timing) -> Transition:
    """The bank asks the user for something: a new authentication round opens (an unattended update cannot wait for
    a user and fails instead, with the place the user can act when there is one)."""
    _require(record, _WAITING_FOR_UPSTREAM, "asking the user")
    if record.mode is UpdateMode.UNATTENDED:
        error = UserActionRequired(
            "the bank asks for strong customer authentication", action_url=challenge.web_form_url
        ).to_update_error()
        return fail(record, error, now)
    if record.auth_round >= timing.max_auth_rounds:
        return fail(record, TooManyAuthenticationRounds(f"{record.auth_round} rounds").to_update_error(), now)
    previous = record.challenge
    rejected = (
        previous is not None
        and record.last_answer_at is not None
        and previous.status is challenge.status
        and challenge.status not in _REPEATS_WITHOUT_REJECTION
    )
    window_ends = now + timedelta(seconds=timing.auth_window_seconds)
    if challenge.web_form_expires_at is not None:
        window_ends = min(window_ends, challenge.web_form_expires_at)
    waiting = record.model_copy(
        update={
            "status": UpdateStatus.AUTHENTICATION_REQUIRED,
            "challenge": challenge.model_copy(update={"previous_answer_rejected": rejected}),
            "auth_round": record.auth_round + 1,
            "auth_window_ends_at": window_ends,
            # ``last_answer_at`` stays: the next decoupled confirmation is paced from the answer that led here.
            "updated_at": now,
        }
    )
    return Transition(waiting, Step(Next.AWAIT_USER))


def answered(record: UpdateRecord, now: datetime) -> UpdateRecord:
    """The user's answer is on its way to finAPI (decoupled confirmations are paced from this moment)."""
    _require(record, frozenset({UpdateStatus.AUTHENTICATION_REQUIRED}), "answering")
    return record.model_copy(update={"last_answer_at": now, "updated_at": now})


def succeeded(record: UpdateRecord, result: UpdateResult, now: datetime, polls: int = 0) -> Transition:
    """finAPI finished the download. If not a single account could be refreshed, that is a failed update."""
    _require(record, frozenset({UpdateStatus.IN_PROGRESS}), "recording the result")
    statuses = [account.status for account in result.accounts]
    error = None
    if statuses and all(status == "DOWNLOAD_FAILED" for status in statuses):
        error = DownloadFailed("finAPI could not download any account of this connection").to_update_error()
    done = record.model_copy(
        update={"result": result, "error": error, "poll_count": record.poll_count + polls, "updated_at": now}
    )
    return Transition(done, Step(Next.FINISH))


def fail(record: UpdateRecord, error: UpdateError, now: datetime, polls: int = 0) -> Transition:
    """Record why the update cannot succeed; the first recorded error is the one the user sees."""
    _require(record, _OPEN, "failing")
    failed = record.model_copy(
        update={"error": record.error or error, "poll_count": record.poll_count + polls, "updated_at": now}
    )
    return Transition(failed, Step(Next.FINISH))


def finish(record: UpdateRecord, now: datetime) -> UpdateRecord:
    """The terminal status from the recorded outcome: an error fails (or expires) the update, a result succeeds it."""
    _require(record, _OPEN, "finishing")
    error = record.error
    if error is not None:
        status = UpdateStatus.EXPIRED if error.code == AuthenticationExpired.code else UpdateStatus.FAILED
    elif record.result is not None:
        status = UpdateStatus.SUCCEEDED
    else:
        status, error = UpdateStatus.FAILED, _NO_OUTCOME
    return record.model_copy(update={"status": status, "error": error, "challenge": None, "updated_at": now})


def window_closed(record: UpdateRecord, now: datetime) -> bool:
    """The current authentication round can no longer be answered."""
    return (
        record.status is UpdateStatus.AUTHENTICATION_REQUIRED
        and record.auth_window_ends_at is not None
        and now >= record.auth_window_ends_at
    )
