"""Translation between finAPI's models and the domain's (one place, both directions)."""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import SecretStr

from bankupdate.domain.answers import AuthenticationAnswer, Credential, redirect_query
from bankupdate.domain.model import (
    AccountOutcome,
    AccountType,
    BankingInterface,
    Challenge,
    ChallengeStatus,
    TwoStepProcedureOption,
    UpdateOptions,
)
from bankupdate.domain.polling import BankResultSnapshot, ConnectionSnapshot, InterfaceSnapshot
from bankupdate.domain.psu import PsuContext
from bankupdate.domain.transactions import FINAPI_TIME_ZONE, AccountNow, BankTransaction
from bankupdate.domain.urls import LinkPolicy
from bankupdate.finapi import models as finapi


def _enum_value(value: object) -> str:
    return str(getattr(value, "value", value))


def update_params(
    connection_id: int,
    options: UpdateOptions,
    *,
    credentials: Sequence[Credential] = (),
    store_secrets: bool | None = None,
    msa: finapi.MultiStepAuthenticationCallback | None = None,
) -> finapi.UpdateBankConnectionParams:
    return finapi.UpdateBankConnectionParams(
        bank_connection_id=connection_id,
        interface=BankingInterface(options.interface.value) if options.interface else None,
        login_credentials=[finapi.LoginCredential(label=c.label, value=c.value) for c in credentials] or None,
        store_secrets=options.store_secrets if store_secrets is None else store_secrets,
        import_new_accounts=options.import_new_accounts,
        skip_positions_download=options.skip_positions_download,
        load_owner_data=options.load_owner_data,
        account_types=[AccountType(t.value) for t in options.account_types] or None,
        account_references=[finapi.AccountReference(iban=iban) for iban in options.account_references] or None,
        redirect_url=options.redirect_url,
        multi_step_authentication=msa,
    )


def msa_callback(challenge: Challenge, answer: AuthenticationAnswer) -> finapi.MultiStepAuthenticationCallback:
    return finapi.MultiStepAuthenticationCallback(
        hash=challenge.hash or "",
        challenge_response=answer.challenge_response,
        two_step_procedure_id=answer.two_step_procedure_id,
        redirect_callback=SecretStr(redirect_query(answer.redirect_callback.get_secret_value()))
        if answer.redirect_callback is not None
        else None,
        decoupled_callback=answer.decoupled_callback,
    )


def psu_metadata(psu: PsuContext | None) -> finapi.PsuMetadata | None:
    if psu is None:
        return None
    return finapi.PsuMetadata(ip_address=psu.ip_address, device_os=psu.device_os, user_agent=psu.user_agent)


def challenge_from(msa: finapi.MultiStepAuthenticationChallenge, message: str | None, links: LinkPolicy) -> Challenge:
    """The bank's question; its page (redirect approach) only if ``links`` lets a browser be sent there."""
    return Challenge(
        status=ChallengeStatus(_enum_value(msa.status)),
        hash=msa.hash,
        message=msa.challenge_message or message,
        answer_field_label=msa.answer_field_label,
        redirect_url=links.link(msa.redirect_url),
        redirect_context_field=msa.redirect_context_field,
        two_step_procedures=tuple(
            TwoStepProcedureOption(
                procedure_id=p.procedure_id,
                procedure_name=p.procedure_name,
                challenge_type=_enum_value(p.procedure_challenge_type) if p.procedure_challenge_type else None,
                implicit_execute=p.implicit_execute,
            )
            for p in (msa.two_step_procedures or [])
        ),
        photo_tan_mime_type=msa.photo_tan_mime_type,
        photo_tan_data=msa.photo_tan_data,
        optical_data=msa.optical_data,
    )


def _result(result: finapi.UpdateResult | None) -> BankResultSnapshot | None:
    if result is None:
        return None
    return BankResultSnapshot(
        result=_enum_value(result.result),
        error_message=result.error_message,
        error_type=_enum_value(result.error_type) if result.error_type else None,
        timestamp=result.timestamp,
    )


def snapshot_from(connection: finapi.BankConnection) -> ConnectionSnapshot:
    return ConnectionSnapshot(
        connection_id=connection.id,
        update_status=_enum_value(connection.update_status),
        categorization_status=_enum_value(connection.categorization_status)
        if connection.categorization_status
        else None,
        interfaces=tuple(
            InterfaceSnapshot(
                interface=_enum_value(i.interface),
                last_manual_update=_result(i.last_manual_update),
                last_auto_update=_result(i.last_auto_update),
                consent_expires_at=i.ais_consent.expires_at if i.ais_consent else None,
                user_action_required=i.user_action_required,
            )
            for i in connection.interfaces
        ),
        account_ids=tuple(connection.account_ids),
    )


def account_outcome(account: finapi.Account, interface: str | None, known_ids: Sequence[int]) -> AccountOutcome:
    status = None
    for account_interface in account.interfaces or []:
        if interface is None or _enum_value(account_interface.interface) == interface:
            status = _enum_value(account_interface.status)
            break
    return AccountOutcome(
        account_id=account.id,
        name=account.account_name,
        iban=account.iban,
        account_type=_enum_value(account.account_type) if account.account_type else None,
        status=status or "UNKNOWN",
        balance=account.balance,
        currency=account.account_currency,
        new_account=account.id not in known_ids,
    )


def account_now(account: finapi.Account) -> AccountNow:
    return AccountNow(
        account_id=account.id,
        name=account.account_name,
        iban=account.iban,
        account_type=_enum_value(account.account_type) if account.account_type else None,
        balance=account.balance,
        currency=account.account_currency,
        last_successful_update=account.last_successful_update,
    )


def bank_transaction(transaction: finapi.Transaction) -> BankTransaction:
    """finAPI's dates are German time: the booking and value dates are the German day they name."""
    return BankTransaction(
        transaction_id=transaction.id,
        account_id=transaction.account_id,
        amount=transaction.amount,
        currency=transaction.currency,
        bank_booking_date=transaction.bank_booking_date.astimezone(FINAPI_TIME_ZONE).date(),
        value_date=transaction.value_date.astimezone(FINAPI_TIME_ZONE).date() if transaction.value_date else None,
        imported_at=transaction.import_date,
        purpose=transaction.purpose,
        counterpart_name=transaction.counterpart_name,
        counterpart_iban=transaction.counterpart_iban,
        kind=transaction.type,
        adjusting_entry=transaction.is_adjusting_entry,
        potential_duplicate=transaction.is_potential_duplicate,
        is_new=transaction.is_new,
    )


def credential_labels(connection: finapi.BankConnection, interface: str | None) -> tuple[str, ...]:
    for candidate in connection.interfaces:
        if interface is None or _enum_value(candidate.interface) == interface:
            return tuple(c.label for c in candidate.login_credentials)
    return ()
