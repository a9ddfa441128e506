"""Finalize: the one way an update ends — terminal state, connection health, lock released, outcome event."""

from __future__ import annotations

from datetime import timedelta

from bankupdate.domain import events
from bankupdate.domain.errors import (
    AuthenticationExpired,
    BankUpdateError,
    NotFound,
    UnattendedBudgetExhausted,
    UpdateError,
)
from bankupdate.domain.failures import StateFailure, error_from_failure
from bankupdate.domain.model import ConnectionHealth, SkipReason, UpdateMode, UpdateRecord, UpdateStatus
from bankupdate.observability import logger, metrics
from bankupdate.stores.records import StaleUpdate
from bankupdate.usecases.services import Services

_MISSING_OUTCOME = BankUpdateError("the workflow ended without an outcome").to_update_error()


def _terminal_status(record: UpdateRecord, error: UpdateError | None) -> tuple[UpdateStatus, UpdateError | None]:
    if error is not None:
        expired = error.code == AuthenticationExpired.code
        return (UpdateStatus.EXPIRED if expired else UpdateStatus.FAILED), error
    if record.result is not None:
        return UpdateStatus.SUCCEEDED, None
    return UpdateStatus.FAILED, _MISSING_OUTCOME


def _health(previous: ConnectionHealth, record: UpdateRecord) -> ConnectionHealth:
    now = record.updated_at
    if record.status is UpdateStatus.SUCCEEDED:
        result = record.result
        return previous.model_copy(
            update={
                "last_attempt_at": now,
                "last_success_at": now,
                "last_outcome": record.status,
                "last_error": None,
                "user_action_required": False,
                "consent_expires_at": (result.consent_expires_at if result else None) or previous.consent_expires_at,
                "known_account_ids": tuple(a.account_id for a in result.accounts) if result else (),
            }
        )
    error = record.error
    return previous.model_copy(
        update={
            "last_attempt_at": now,
            "last_outcome": record.status,
            "last_error": error,
            # Transient failures say nothing about the user; only a failure that needs the user sets the flag.
            "user_action_required": previous.user_action_required or bool(error and error.user_action_required),
        }
    )


def complete(services: Services, update_id: str, error: UpdateError | None = None) -> UpdateRecord:
    """End the update. Safe to repeat: the lock is released last, so a repeat after a crash (the lock is still held
    by this update) redoes the consequences (health, schedule, event), and a repeat after success does nothing."""
    for _ in range(3):
        stored = services.updates.get(update_id)
        if stored is None:
            raise NotFound(f"update {update_id} does not exist")
        record = stored.record
        if record.status.is_terminal:
            connection = services.connections.get(record.owner_id, record.connection_id)
            if connection is not None and connection.active_update_id == update_id:
                _consequences(services, record)
            return record
        status, final_error = _terminal_status(record, error or record.error)
        finished = record.model_copy(
            update={"status": status, "error": final_error, "challenge": None, "updated_at": services.clock()}
        )
        try:
            finished = services.updates.save(finished, expected_version=record.version, drop_task_token=True)
        except StaleUpdate:
            continue  # somebody wrote in between (e.g. a late answer); decide again on the fresh record
        break
    else:
        raise StaleUpdate(update_id)
    _consequences(services, finished)
    metrics.add_metric(name=f"Update{finished.status.value.title()}", unit="Count", value=1)
    logger.info(
        "update finished",
        extra={
            "update_id": update_id,
            "status": finished.status.value,
            "error_code": finished.error.code if finished.error else None,
        },
    )
    return finished


def _consequences(services: Services, finished: UpdateRecord) -> None:
    connection = services.connections.get(finished.owner_id, finished.connection_id)
    if connection is not None:
        services.connections.record_health(
            finished.owner_id, finished.connection_id, _health(connection.health, finished)
        )
    _update_schedule(services, finished, connection.schedule.enabled if connection else False)
    services.events.publish(
        events.DETAIL_TYPE_BY_STATUS[finished.status], events.UpdateFinished.of(finished, finished.updated_at)
    )
    services.connections.release_lock(finished.owner_id, finished.connection_id, update_id=finished.update_id)


def _update_schedule(services: Services, finished: UpdateRecord, scheduled: bool) -> None:
    """Needing the user stops background updates; a user-present success brings them back."""
    if not scheduled:
        return
    now = finished.updated_at
    error = finished.error
    if finished.status is UpdateStatus.SUCCEEDED and finished.mode is UpdateMode.USER_PRESENT:
        next_due = now + timedelta(minutes=services.settings.schedule_interval_minutes)
        services.schedules.reschedule(
            finished.owner_id, finished.connection_id, next_due_at=next_due, skip=None, now=now
        )
    elif error is not None and error.user_action_required:
        services.schedules.reschedule(
            finished.owner_id, finished.connection_id, next_due_at=None, skip=SkipReason.USER_ACTION_REQUIRED, now=now
        )
        services.events.publish(
            events.USER_ACTION_REQUIRED,
            events.ConnectionNeedsUser(
                owner_id=finished.owner_id,
                connection_id=finished.connection_id,
                update_id=finished.update_id,
                reason=error.code,
                user_message=error.user_message,
            ),
        )
    elif error is not None and error.code == UnattendedBudgetExhausted.code:
        next_day = services.budget.next_day_start(now)
        services.schedules.reschedule(
            finished.owner_id, finished.connection_id, next_due_at=next_day, skip=SkipReason.BUDGET_EXHAUSTED, now=now
        )


def finalize_from_workflow(services: Services, update_id: str, failure: dict[str, object] | None) -> UpdateRecord:
    error = error_from_failure(StateFailure.from_catch(failure)).to_update_error() if failure else None
    return complete(services, update_id, error)
