"""TriggerUpdate (user present): lock the connection, call finAPI, start the workflow where finAPI's answer points."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import timedelta
from typing import NoReturn

from bankupdate import finapi
from bankupdate.domain.answers import Credential
from bankupdate.domain.errors import (
    BankUpdateError,
    ConsentInvalid,
    CredentialsRequired,
    UpdateAlreadyRunning,
    UpstreamUnavailable,
    UserNotRegistered,
)
from bankupdate.domain.model import Challenge, ChallengeStatus, UpdateMode, UpdateOptions, UpdateRecord, UpdateStatus
from bankupdate.domain.psu import PsuContext
from bankupdate.domain.steps import StepOutput
from bankupdate.observability import logger
from bankupdate.stores.records import FinapiUserRecord
from bankupdate.usecases import finalize_update
from bankupdate.usecases.finapi_mapping import psu_metadata, update_params
from bankupdate.usecases.locking import take_lock
from bankupdate.usecases.progress import await_answer, record_answer, record_unconfirmed_start, workflow_input
from bankupdate.usecases.reconcile import recover_if_orphaned
from bankupdate.usecases.services import Services


def finapi_user(services: Services, owner_id: str) -> finapi.FinapiUserCredentials:
    user: FinapiUserRecord | None = services.users.get(owner_id)
    if user is None:
        raise UserNotRegistered(f"no finAPI user is registered for {owner_id}")
    return finapi.FinapiUserCredentials(username=user.username, password=user.password)


def start_user_update(
    services: Services,
    *,
    owner_id: str,
    connection_id: int,
    options: UpdateOptions,
    credentials: Sequence[Credential],
    psu: PsuContext,
    request_id: str | None,
) -> UpdateRecord:
    user = finapi_user(services, owner_id)
    now = services.clock()
    update_id = uuid.uuid4().hex
    # The connection's first update creates its record in the same write that takes the lock.
    lock = take_lock(services, owner_id, connection_id, update_id, create_missing=True)
    if lock.holder is not None:
        recovered = recover_if_orphaned(services, owner_id, connection_id, lock.holder)
        raise UpdateAlreadyRunning(
            f"update {lock.holder} of connection {connection_id} is still running",
            details={"updateId": lock.holder, "recovered": recovered},
        )
    connection = lock.connection
    record = UpdateRecord(
        update_id=update_id,
        owner_id=owner_id,
        connection_id=connection_id,
        mode=UpdateMode.USER_PRESENT,
        status=UpdateStatus.PENDING,
        options=options,
        created_at=now,
        updated_at=now,
        triggered_at=now,
        finapi_called_at=now,
        deadline_at=now + timedelta(seconds=services.settings.update_deadline_seconds),
        known_account_ids=connection.health.known_account_ids if connection else (),
        execution_arn=services.workflow.execution_arn(update_id),
    )
    services.updates.create(record)
    logger.append_keys(update_id=update_id, connection_id=connection_id)
    try:
        outcome = services.finapi.update_bank_connection(
            user,
            update_params(connection_id, options, credentials=credentials),
            psu=psu_metadata(psu),
            request_id=request_id,
        )
    except (CredentialsRequired, ConsentInvalid) as error:
        if credentials:
            return _fail(services, update_id, error)
        # No credentials sent and finAPI needs them (none stored, or the consent must be renewed): ask the user.
        waiting, step = _await_credentials(services, record, error)
        return _start_workflow(services, waiting, step)
    except UpstreamUnavailable as error:
        if error.upstream_status is not None:
            return _fail(services, update_id, error)  # finAPI answered (5xx): it did not start anything
        # No answer at all: finAPI may be downloading. The poll loop finds out; only a fresh result counts.
        return _start_workflow(services, *record_unconfirmed_start(services, record))
    except BankUpdateError as error:
        return _fail(services, update_id, error)
    saved, step = record_answer(services, record, outcome)
    return _start_workflow(services, saved, step)


def _await_credentials(
    services: Services, record: UpdateRecord, error: BankUpdateError
) -> tuple[UpdateRecord, StepOutput]:
    challenge = Challenge(status=ChallengeStatus.CREDENTIALS_REQUIRED, message=error.user_message)
    return await_answer(services, record, challenge)


def _start_workflow(services: Services, record: UpdateRecord, step: StepOutput) -> UpdateRecord:
    try:
        services.workflow.start(record.update_id, workflow_input(services, record.update_id, step))
    except Exception as error:
        # finAPI may be downloading already; without a workflow nobody would ever release the lock.
        logger.exception("could not start the update workflow")
        message = f"workflow did not start: {type(error).__name__}"
        finalize_update.complete(services, record.update_id, BankUpdateError(message).to_update_error())
        raise
    return record


def _fail(services: Services, update_id: str, error: BankUpdateError) -> NoReturn:
    finalize_update.complete(services, update_id, error.to_update_error())
    error.details.setdefault("updateId", update_id)
    raise error


def start_user_update_once(
    services: Services,
    *,
    idempotency_key: str | None,
    owner_id: str,
    connection_id: int,
    options: UpdateOptions,
    credentials: Sequence[Credential],
    psu: PsuContext,
    request_id: str | None,
) -> UpdateRecord:
    """With an ``Idempotency-Key``, a repeated request answers with the update the first one started."""

    def start() -> UpdateRecord:
        return start_user_update(
            services,
            owner_id=owner_id,
            connection_id=connection_id,
            options=options,
            credentials=credentials,
            psu=psu,
            request_id=request_id,
        )

    if idempotency_key is None:
        return start()
    # Powertools idempotency (and boto3 behind it) loads only when a caller sends an Idempotency-Key.
    from bankupdate.stores.idempotency import IdempotencyAlreadyInProgressError, run_once

    key = {"owner": owner_id, "connection": connection_id, "idempotencyKey": idempotency_key}
    try:
        answer = run_once(
            services.settings.idempotency_table_name,
            services.settings.idempotency_ttl_seconds,
            key,
            lambda: {"updateId": start().update_id},
        )
    except IdempotencyAlreadyInProgressError as error:
        raise UpdateAlreadyRunning(
            "a request with this Idempotency-Key is still being processed", details={"idempotencyKey": idempotency_key}
        ) from error
    stored = services.updates.get(str(answer["updateId"]))
    if stored is None:
        raise UpdateAlreadyRunning(
            "the update of this Idempotency-Key is gone", details={"updateId": answer["updateId"]}
        )
    return stored.record
