"""PollUpdateStatus: look at finAPI until the download ends or the next gap is cheaper waited in a Wait state.

The verdict comes from the domain (``decide_poll``), the gaps and where to wait them from ``plan_wait``. While the
invocation sleeps between looks nothing is written: the record is saved when the status changes, when the update
ends, and when the invocation hands the next wait back to the state machine.
"""

from __future__ import annotations

from dataclasses import dataclass

from bankupdate.domain.backoff import PollSchedule, WaitCost, plan_wait
from bankupdate.domain.errors import DownloadFailed, NotFound
from bankupdate.domain.model import UpdateRecord, UpdateResult, UpdateStatus
from bankupdate.domain.polling import BankResultSnapshot, PollVerdict, all_accounts_failed, decide_poll
from bankupdate.domain.steps import NextStep, StepOutput
from bankupdate.finapi import BankConnection, FinapiUserCredentials
from bankupdate.usecases.finapi_mapping import account_outcome, snapshot_from
from bankupdate.usecases.services import Services
from bankupdate.usecases.start_update import finapi_user

_FINALIZE = StepOutput(next=NextStep.FINALIZE)
# What one more look needs after the last sleep: a finAPI call (its timeout) and a save, with room to spare.
_LOOK_RESERVE_SECONDS = 5.0


@dataclass(frozen=True)
class Invocation:
    """What the Lambda runtime grants this invocation (the context's remaining time and memory size)."""

    seconds_left: float
    memory_mb: int


def poll_update(services: Services, update_id: str, invocation: Invocation) -> StepOutput:
    stored = services.updates.get(update_id)
    if stored is None:
        raise NotFound(f"update {update_id} does not exist")
    record = stored.record
    if record.status.is_terminal or record.error is not None or record.result is not None:
        return _FINALIZE
    user = finapi_user(services, record.owner_id)
    settings = services.settings
    schedule = PollSchedule(settings.poll_lag_ratio, settings.poll_min_gap_seconds, settings.poll_max_gap_seconds)
    inline_limit = (
        settings.poll_inline_max_gap_seconds
        if settings.poll_inline_max_gap_seconds is not None
        else WaitCost(invocation.memory_mb).break_even_gap_seconds()
    )
    interface = record.options.interface.value if record.options.interface else None
    triggered_at = record.triggered_at or record.created_at
    # Wall time used by this invocation is measured on the same clock the gaps are planned with.
    started = services.clock()
    looks = 0
    while True:
        connection = services.finapi.get_bank_connection(user, record.connection_id)
        looks += 1
        now = services.clock()
        deadline_at = record.deadline_at or now
        decision = decide_poll(
            snapshot_from(connection),
            interface=interface,
            triggered_at=triggered_at,
            deadline_at=deadline_at,
            now=now,
            wait_for_categorization=record.options.wait_for_categorization,
            require_fresh_result=not record.start_confirmed,
        )
        if decision.verdict is PollVerdict.FAILED and decision.error is not None:
            _save(
                services, record, {"error": decision.error.to_update_error(), "poll_count": record.poll_count + looks}
            )
            return _FINALIZE
        if decision.verdict is PollVerdict.SUCCEEDED:
            _save_result(services, record, user, connection, interface, decision.bank_result, looks)
            return _FINALIZE

        plan = plan_wait(
            schedule,
            elapsed_seconds=(now - triggered_at).total_seconds(),
            until_deadline_seconds=(deadline_at - now).total_seconds(),
            inline_max_gap_seconds=inline_limit,
            invocation_seconds_left=invocation.seconds_left
            - (now - started).total_seconds()
            - settings.finapi_timeout_seconds
            - _LOOK_RESERVE_SECONDS,
        )
        running: dict[str, object] = (
            {} if record.status is UpdateStatus.IN_PROGRESS else {"status": UpdateStatus.IN_PROGRESS}
        )
        if not plan.inline:
            _save(services, record, running | {"poll_count": record.poll_count + looks})
            return StepOutput(next=NextStep.POLL, wait_seconds=plan.state_wait_seconds)
        if running:  # the app sees IN_PROGRESS while this invocation sleeps
            record = _save(services, record, running)
        services.sleep(plan.gap_seconds)


def _save_result(
    services: Services,
    record: UpdateRecord,
    user: FinapiUserCredentials,
    connection: BankConnection,
    interface: str | None,
    bank_result: BankResultSnapshot | None,
    looks: int,
) -> None:
    accounts = tuple(
        account_outcome(services.finapi.get_account(user, account_id), interface, record.known_account_ids)
        for account_id in connection.account_ids
    )
    snapshot_interface = snapshot_from(connection).interface_named(interface)
    result = UpdateResult(
        accounts=accounts,
        categorization_status=str(getattr(connection.categorization_status, "value", connection.categorization_status))
        if connection.categorization_status
        else None,
        finished_at=services.clock(),
        bank_result=bank_result.result if bank_result else None,
        consent_expires_at=snapshot_interface.consent_expires_at if snapshot_interface else None,
    )
    changes: dict[str, object] = {"result": result, "poll_count": record.poll_count + looks}
    if all_accounts_failed([a.status for a in accounts]):
        changes["error"] = DownloadFailed("finAPI could not download any account of this connection").to_update_error()
    _save(services, record, changes)


def _save(services: Services, record: UpdateRecord, changes: dict[str, object]) -> UpdateRecord:
    return services.updates.save(
        record.model_copy(update={**changes, "updated_at": services.clock()}), expected_version=record.version
    )
