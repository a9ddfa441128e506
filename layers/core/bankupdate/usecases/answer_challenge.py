"""CollectCredentials: take the user's answer, pass it to finAPI with the latest hash, resume the workflow."""

from __future__ import annotations

import time
from datetime import timedelta

from bankupdate.domain.answers import AuthenticationAnswer, check_answer_fits
from bankupdate.domain.errors import (
    AnswerTooEarly,
    AuthenticationExpired,
    BankUpdateError,
    ChallengeMismatch,
    CredentialsRequired,
    NotFound,
    UpdateLockedUpstream,
    UpdateNotReady,
    UpstreamUnavailable,
)
from bankupdate.domain.model import ChallengeStatus, UpdateRecord, UpdateStatus
from bankupdate.domain.psu import PsuContext
from bankupdate.domain.steps import NextStep, StepOutput
from bankupdate.stores.records import StoredUpdate
from bankupdate.usecases.finapi_mapping import msa_callback, psu_metadata, update_params
from bankupdate.usecases.progress import record_answer, record_unconfirmed_start
from bankupdate.usecases.services import Services
from bankupdate.usecases.start_update import finapi_user

# Errors after which the same answer may simply be sent again: finAPI did not (knowingly) consume the challenge.
_TRY_AGAIN = (UpstreamUnavailable, UpdateLockedUpstream)


def _owned(services: Services, owner_id: str, update_id: str) -> StoredUpdate:
    stored = services.updates.get(update_id)
    if stored is None or stored.record.owner_id != owner_id:
        raise NotFound(f"update {update_id} does not exist")
    return stored


def _check_window(record: UpdateRecord, services: Services) -> None:
    now = services.clock()
    if record.status is UpdateStatus.EXPIRED or (
        record.status is UpdateStatus.AUTHENTICATION_REQUIRED
        and record.auth_window_ends_at is not None
        and now >= record.auth_window_ends_at
    ):
        raise AuthenticationExpired(f"the authentication window of update {record.update_id} has closed")
    if record.status is not UpdateStatus.AUTHENTICATION_REQUIRED or record.challenge is None:
        raise ChallengeMismatch(
            f"update {record.update_id} is {record.status.value}: no authentication is pending",
            details={"status": record.status.value},
        )
    if record.challenge.status is ChallengeStatus.DECOUPLED_AUTH_IN_PROGRESS and record.last_answer_at is not None:
        ready_at = record.last_answer_at + timedelta(seconds=services.settings.decoupled_min_interval_seconds)
        if now < ready_at:
            wait = max(1, int((ready_at - now).total_seconds() + 0.999))
            raise AnswerTooEarly(f"ask again in {wait} s", details={"retryAfterSeconds": wait})


def _wait_until_parked(services: Services, stored: StoredUpdate) -> StoredUpdate:
    """The workflow parks its task token a moment after the challenge was shown; give it that moment."""
    deadline = time.monotonic() + services.settings.answer_wait_seconds
    while stored.task_token is None or stored.task_token_round != stored.record.auth_round:
        if time.monotonic() >= deadline:
            raise UpdateNotReady(f"update {stored.record.update_id} is not ready for an answer yet")
        time.sleep(0.2)
        refreshed = services.updates.get(stored.record.update_id)
        if refreshed is None or refreshed.record.auth_round != stored.record.auth_round:
            raise ChallengeMismatch("the challenge changed meanwhile; read the update again")
        stored = refreshed
    return stored


def answer_challenge(
    services: Services, *, owner_id: str, update_id: str, answer: AuthenticationAnswer, psu: PsuContext
) -> UpdateRecord:
    stored = _owned(services, owner_id, update_id)
    _check_window(stored.record, services)
    challenge = stored.record.challenge
    assert challenge is not None  # _check_window made sure
    check_answer_fits(challenge, answer)
    stored = _wait_until_parked(services, stored)
    record = stored.record
    if not services.updates.claim_round(
        update_id, auth_round=record.auth_round, now=services.clock(), lease=timedelta(seconds=60)
    ):
        raise ChallengeMismatch("this challenge has already been answered", details={"authRound": record.auth_round})

    credentials = answer.login_credentials or ()
    params = update_params(
        record.connection_id,
        record.options,
        credentials=credentials,
        store_secrets=answer.store_secrets,
        msa=None if challenge.status is ChallengeStatus.CREDENTIALS_REQUIRED else msa_callback(challenge, answer),
    )
    record = record.model_copy(update={"last_answer_at": services.clock()})
    try:
        outcome = services.finapi.update_bank_connection(
            finapi_user(services, owner_id), params, psu=psu_metadata(psu), request_id=None
        )
    except _TRY_AGAIN as error:
        if isinstance(error, UpstreamUnavailable) and error.upstream_status is None:
            # No answer at all: finAPI may have taken the TAN and started. The poll loop finds out (fresh result only).
            saved, step = record_unconfirmed_start(services, record)
            _resume(services, stored.task_token, step)
            return saved
        services.updates.release_round(update_id, auth_round=record.auth_round)
        raise
    except CredentialsRequired:
        if challenge.status is ChallengeStatus.CREDENTIALS_REQUIRED:
            services.updates.release_round(update_id, auth_round=record.auth_round)
        raise
    except BankUpdateError as error:
        failed = services.updates.save(
            record.model_copy(update={"error": error.to_update_error(), "updated_at": services.clock()}),
            expected_version=record.version,
        )
        _resume(services, stored.task_token, StepOutput(next=NextStep.FINALIZE))
        error.details.setdefault("updateId", failed.update_id)
        raise
    saved, step = record_answer(services, record, outcome)
    _resume(services, stored.task_token, step)
    return saved


def _resume(services: Services, task_token: str | None, step: StepOutput) -> None:
    if task_token is not None:
        services.workflow.resume(task_token, step.to_state())
