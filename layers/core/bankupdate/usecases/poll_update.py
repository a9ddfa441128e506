"""PollUpdateStatus: one look at finAPI per loop; the verdict and the next wait come from the domain."""

from __future__ import annotations

from bankupdate.domain.errors import DownloadFailed, NotFound
from bankupdate.domain.model import UpdateRecord, UpdateResult, UpdateStatus
from bankupdate.domain.polling import PollTiming, PollVerdict, all_accounts_failed, decide_poll
from bankupdate.domain.steps import NextStep, StepOutput
from bankupdate.usecases.finapi_mapping import account_outcome, snapshot_from
from bankupdate.usecases.services import Services
from bankupdate.usecases.start_update import finapi_user

_FINALIZE = StepOutput(next=NextStep.FINALIZE)


def poll_update(services: Services, update_id: str) -> StepOutput:
    stored = services.updates.get(update_id)
    if stored is None:
        raise NotFound(f"update {update_id} does not exist")
    record = stored.record
    if record.status.is_terminal or record.error is not None or record.result is not None:
        return _FINALIZE
    user = finapi_user(services, record.owner_id)
    connection = services.finapi.get_bank_connection(user, record.connection_id)
    now = services.clock()
    interface = record.options.interface.value if record.options.interface else None
    decision = decide_poll(
        snapshot_from(connection),
        interface=interface,
        triggered_at=record.triggered_at or record.created_at,
        deadline_at=record.deadline_at or now,
        now=now,
        wait_for_categorization=record.options.wait_for_categorization,
        poll_count=record.poll_count,
        timing=PollTiming(services.settings.poll_initial_wait_seconds, services.settings.poll_max_wait_seconds),
        require_fresh_result=not record.start_confirmed,
    )
    if decision.verdict is PollVerdict.WAIT:
        _save(services, record, {"status": UpdateStatus.IN_PROGRESS, "poll_count": record.poll_count + 1})
        return StepOutput(next=NextStep.POLL, wait_seconds=decision.wait_seconds)
    if decision.verdict is PollVerdict.FAILED and decision.error is not None:
        _save(services, record, {"error": decision.error.to_update_error(), "poll_count": record.poll_count + 1})
        return _FINALIZE

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
        finished_at=now,
        bank_result=decision.bank_result.result if decision.bank_result else None,
        consent_expires_at=snapshot_interface.consent_expires_at if snapshot_interface else None,
    )
    changes: dict[str, object] = {"result": result, "poll_count": record.poll_count + 1}
    if all_accounts_failed([a.status for a in accounts]):
        changes["error"] = DownloadFailed("finAPI could not download any account of this connection").to_update_error()
    _save(services, record, changes)
    return _FINALIZE


def _save(services: Services, record: UpdateRecord, changes: dict[str, object]) -> None:
    services.updates.save(
        record.model_copy(update={**changes, "updated_at": services.clock()}), expected_version=record.version
    )
