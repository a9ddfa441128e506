"""Shaping records into what the API shows: never a hash, a task token or anything the user typed."""

from __future__ import annotations

from datetime import datetime
from urllib.parse import urlencode

from bankupdate.api.models import (
    AccountNowView,
    AccountView,
    AddedTransactionView,
    AuthenticationView,
    ConnectionAccountsView,
    ConnectionView,
    ErrorView,
    RemovedTransactionView,
    ResultView,
    ScheduleView,
    TransactionChanges,
    TwoStepProcedureView,
    UpdateView,
)
from bankupdate.domain.answers import EXPECTED_FIELD
from bankupdate.domain.budget import UnattendedBudget
from bankupdate.domain.errors import UpdateError
from bankupdate.domain.model import ConnectionRecord, UpdateRecord
from bankupdate.domain.scheduling import REMEDY
from bankupdate.domain.sync_cursor import Item
from bankupdate.domain.transactions import BankTransaction, ConnectionAccounts


def _error(error: UpdateError | None) -> ErrorView | None:
    if error is None:
        return None
    return ErrorView(
        code=error.code,
        message=error.message,
        user_message=error.user_message,
        retryable=error.retryable,
        user_action_required=error.user_action_required,
        action_url=error.action_url,
    )


def _with_return(web_form_url: str | None, redirect_url: str | None) -> str | None:
    """finAPI's web form sends the user on to ``redirectUrl`` given on its URL when it is done."""
    if web_form_url is None or redirect_url is None:
        return web_form_url
    separator = "&" if "?" in web_form_url else "?"
    return f"{web_form_url}{separator}{urlencode({'redirectUrl': redirect_url})}"


def update_view(record: UpdateRecord, max_rounds: int) -> UpdateView:
    challenge = record.challenge
    authentication = None
    if challenge is not None:
        authentication = AuthenticationView(
            status=challenge.status,
            answer_field=EXPECTED_FIELD[challenge.status],
            message=challenge.message,
            previous_answer_rejected=challenge.previous_answer_rejected,
            rounds_left=max(0, max_rounds - record.auth_round),
            credential_labels=list(challenge.credential_labels),
            web_form_url=_with_return(challenge.web_form_url, record.options.redirect_url),
            answer_field_label=challenge.answer_field_label,
            redirect_url=challenge.redirect_url,
            two_step_procedures=[
                TwoStepProcedureView(
                    procedure_id=p.procedure_id,
                    procedure_name=p.procedure_name,
                    challenge_type=p.challenge_type,
                    implicit_execute=p.implicit_execute,
                )
                for p in challenge.two_step_procedures
            ],
            photo_tan_mime_type=challenge.photo_tan_mime_type,
            photo_tan_data=challenge.photo_tan_data,
            optical_data=challenge.optical_data,
            round=record.auth_round,
            expires_at=record.auth_window_ends_at,
        )
    result = None
    if record.result is not None:
        result = ResultView(
            accounts=[
                AccountView(
                    account_id=a.account_id,
                    name=a.name,
                    iban=a.iban,
                    account_type=a.account_type,
                    status=a.status,
                    balance=a.balance,
                    currency=a.currency,
                    new_account=a.new_account,
                    imported_transactions=a.imported_transactions,
                    removed_transactions=a.removed_transactions,
                    balance_before=a.balance_before,
                    balance_after=a.balance,
                )
                for a in record.result.accounts
            ],
            categorization_status=record.result.categorization_status,
            finished_at=record.result.finished_at,
        )
    return UpdateView(
        update_id=record.update_id,
        connection_id=record.connection_id,
        mode=record.mode,
        status=record.status,
        created_at=record.created_at,
        updated_at=record.updated_at,
        authentication=authentication,
        result=result,
        error=_error(record.error) if record.status.is_terminal else None,
        counted_as_unattended=record.counted_as_unattended,
    )


def connection_view(record: ConnectionRecord, budget: UnattendedBudget, now: datetime) -> ConnectionView:
    health = record.health
    schedule = record.schedule
    reason = schedule.last_skip_reason
    return ConnectionView(
        connection_id=record.connection_id,
        active_update_id=record.active_update_id,
        schedule=ScheduleView(
            enabled=schedule.enabled,
            next_due_at=schedule.next_due_at,
            unattended_used_today=budget.used(record.unattended, now),
            unattended_left_today=budget.remaining(record.unattended, now),
            last_skip_reason=reason.value if reason else None,
            last_skip_at=schedule.last_skip_at,
            remedy=REMEDY[reason] if reason else (health.last_error.user_message if health.last_error else None),
        ),
        last_success_at=health.last_success_at,
        last_attempt_at=health.last_attempt_at,
        last_outcome=health.last_outcome,
        last_error=_error(health.last_error),
        consent_expires_at=health.consent_expires_at,
        user_action_required=health.user_action_required,
        redirect_approach=bool(record.redirect_interfaces) if record.redirect_interfaces is not None else None,
    )


def accounts_view(found: ConnectionAccounts) -> ConnectionAccountsView:
    return ConnectionAccountsView(
        connection_id=found.connection_id,
        bank_name=found.bank_name,
        accounts=[
            AccountNowView(
                account_id=a.account_id,
                name=a.name,
                iban=a.iban,
                account_type=a.account_type,
                balance=a.balance,
                currency=a.currency,
                last_successful_update=a.last_successful_update,
            )
            for a in found.accounts
        ],
    )


def added_view(transaction: BankTransaction, update_id: str) -> AddedTransactionView:
    return AddedTransactionView(
        transaction_id=transaction.transaction_id,
        account_id=transaction.account_id,
        update_id=update_id,
        amount=float(transaction.amount),
        currency=transaction.currency,
        bank_booking_date=transaction.bank_booking_date,
        value_date=transaction.value_date,
        imported_at=transaction.imported_at,
        purpose=transaction.purpose,
        counterpart_name=transaction.counterpart_name,
        counterpart_iban=transaction.counterpart_iban,
        type=transaction.kind,
        future_booked=transaction.future_booked,
        adjusting_entry=transaction.adjusting_entry,
        potential_duplicate=transaction.potential_duplicate,
        is_new=transaction.is_new,
    )


def changes_view(
    connection_id: int,
    added: list[tuple[BankTransaction, str]],
    removed: list[Item],
    next_cursor: str,
    has_more: bool,
) -> TransactionChanges:
    return TransactionChanges(
        connection_id=connection_id,
        added=[added_view(transaction, update_id) for transaction, update_id in added],
        removed=[
            RemovedTransactionView(transaction_id=i.transaction_id, account_id=i.account_id, update_id=i.update_id)
            for i in removed
        ],
        next_cursor=next_cursor,
        has_more=has_more,
    )
