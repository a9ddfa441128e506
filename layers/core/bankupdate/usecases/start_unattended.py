"""StartUpdate (unattended): lock, one unit of the daily budget, finAPI without PSU data; never waits for a user."""

from __future__ import annotations

from datetime import timedelta

from bankupdate import finapi
from bankupdate.domain.errors import (
    BankUpdateError,
    NotFound,
    UnattendedBudgetExhausted,
    UpdateAlreadyRunning,
    UpstreamUnavailable,
    UserActionRequired,
)
from bankupdate.domain.model import UpdateRecord, UpdateStatus
from bankupdate.domain.steps import NextStep, StepOutput
from bankupdate.usecases.finapi_mapping import update_params
from bankupdate.usecases.locking import take_lock
from bankupdate.usecases.progress import first_poll, record_answer, record_unconfirmed_start
from bankupdate.usecases.services import Services
from bankupdate.usecases.start_update import finapi_user

_FINALIZE = StepOutput(next=NextStep.FINALIZE)


def start_unattended_update(services: Services, update_id: str) -> StepOutput:
    stored = services.updates.get(update_id)
    if stored is None:
        raise NotFound(f"update {update_id} does not exist")
    record = stored.record
    if record.status is not UpdateStatus.PENDING or record.error is not None:
        return _FINALIZE if record.status.is_terminal or record.error else first_poll()
    if record.finapi_called_at is not None:
        # A retry after finAPI was already called (the last attempt died before recording the answer): never call
        # the non-idempotent update twice; the poll loop finds out what finAPI is doing.
        return first_poll()

    now = services.clock()
    holder = take_lock(services, record.owner_id, record.connection_id, update_id).holder
    if holder is not None:
        return _stop(
            services, record, UpdateAlreadyRunning(f"update {holder} is running", details={"updateId": holder})
        )
    budget = services.budget
    if not services.schedules.consume_unattended(record.owner_id, record.connection_id, budget=budget, now=now):
        return _stop(
            services, record, UnattendedBudgetExhausted(f"{budget.usable_per_day} unattended updates used today")
        )

    called = services.updates.save(
        record.model_copy(
            update={
                "finapi_called_at": now,
                "triggered_at": now,
                "deadline_at": now + timedelta(seconds=services.settings.update_deadline_seconds),
                "updated_at": now,
            }
        ),
        expected_version=record.version,
    )
    try:
        outcome = services.finapi.update_bank_connection(
            finapi_user(services, record.owner_id), update_params(record.connection_id, record.options), psu=None
        )
    except UpstreamUnavailable as error:
        if error.upstream_status is not None:
            return _stop(services, called, error)
        return record_unconfirmed_start(services, called)[1]
    except BankUpdateError as error:
        return _stop(services, called, _unattended_error(error))
    if isinstance(outcome, finapi.AuthenticationRequired):
        return _stop(services, called, UserActionRequired("the bank asks for strong customer authentication"))
    _, step = record_answer(services, called, outcome)
    return step


def _unattended_error(error: BankUpdateError) -> BankUpdateError:
    if error.user_action_required:
        return UserActionRequired(error.message, user_message=error.user_message, upstream_code=error.upstream_code)
    return error


def _stop(services: Services, record: UpdateRecord, error: BankUpdateError) -> StepOutput:
    services.updates.save(
        record.model_copy(update={"error": error.to_update_error(), "updated_at": services.clock()}),
        expected_version=record.version,
    )
    return _FINALIZE
