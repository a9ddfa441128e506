"""Response bodies exactly as finAPI's schemas have them: V1 (all required fields, German-time dates) or V2."""

from __future__ import annotations

import uuid
from datetime import date as date_
from datetime import datetime, time
from typing import Any

from finapi_sandbox.banks import ACCOUNT_TYPE_IDS, GERMAN_TIME, LOGIN_FIELDS, PROCEDURES, Bank
from finapi_sandbox.ledger import Transaction
from finapi_sandbox.problems import BadCredentials, FinapiProblem
from finapi_sandbox.state import Account, Connection, UpdateResultState


def date(moment: datetime | None, version: str) -> str | None:
    if moment is None:
        return None
    local = moment.astimezone(GERMAN_TIME)
    if version == "v1":
        return local.strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]
    return local.isoformat(timespec="milliseconds")


def _interface_key(version: str) -> str:
    return "interface" if version == "v1" else "bankingInterface"


def _result(result: UpdateResultState | None, version: str) -> dict[str, Any] | None:
    if result is None:
        return None
    return {
        "result": result.result,
        "errorMessage": result.error_message,
        "errorType": result.error_type,
        "timestamp": date(result.timestamp, version),
    }


def two_step_procedures() -> list[dict[str, Any]]:
    return [
        {
            "procedureId": p.id,
            "procedureName": p.name,
            "procedureChallengeType": p.challenge_type,
            "implicitExecute": False,
        }
        for p in PROCEDURES
    ]


def bank(bank: Bank, version: str) -> dict[str, Any]:
    return {
        "id": bank.id,
        "name": bank.name,
        "loginHint": None,
        "bic": bank.bic,
        "blzs": [bank.blz],
        "blz": bank.blz,
        "location": None,
        "city": None,
        "isSupported": True,
        "isTestBank": True,
        "popularity": 0,
        "health": 100,
        "loginFieldUserId": "Onlinebanking-ID",
        "loginFieldCustomerId": None,
        "loginFieldPin": "PIN",
        "pinsAreVolatile": False,
        "isCustomerIdPassword": False,
        "supportedDataSources": ["WEB_SCRAPER", "FINTS_SERVER"] if version == "v1" else ["FINTS_SERVER"],
        "interfaces": [
            {
                _interface_key(version): name,
                "tppAuthenticationGroup": None,
                "loginCredentials": [
                    {"label": label, "isSecret": secret, "isVolatile": False} for label, secret in LOGIN_FIELDS
                ],
                "properties": list(bank.properties),
                "loginHint": None,
                "health": 100,
                "lastCommunicationAttempt": None,
                "lastSuccessfulCommunication": None,
                "isMoneyTransferSupported": True,
                "isAisSupported": True,
                "paymentCapabilities": {
                    "sepaMoneyTransfer": True,
                    "sepaInstantMoneyTransfer": False,
                    "sepaCollectiveMoneyTransfer": True,
                    "sepaFutureDatedMoneyTransfer": False,
                    "sepaStandingOrder": False,
                },
                "aisAccountTypes": ["Checking", "Savings"],
            }
            for name in bank.interfaces
        ],
        "bankGroup": None,
        "lastCommunicationAttempt": None,
        "lastSuccessfulCommunication": None,
        "isBeta": False,
    }


def bank_connection(connection: Connection, version: str) -> dict[str, Any]:
    interfaces = []
    for name in connection.bank.interfaces:
        consent = None
        if name == "XS2A":
            consent = {
                "status": "PRESENT" if connection.consent_expires_at else "NOT_PRESENT",
                "expiresAt": date(connection.consent_expires_at, version),
            }
        interfaces.append(
            {
                _interface_key(version): name,
                "loginCredentials": [
                    {"label": label, "value": ("XXXXX" if secret else connection.stored_credentials.get(label))}
                    if label in connection.stored_credentials
                    else {"label": label, "value": None}
                    for label, secret in LOGIN_FIELDS
                ],
                "defaultTwoStepProcedureId": None,
                "twoStepProcedures": two_step_procedures(),
                "aisConsent": consent,
                "lastManualUpdate": _result(connection.last_manual_update.get(name), version),
                "lastAutoUpdate": _result(connection.last_auto_update.get(name), version),
                "userActionRequired": connection.user_action_required,
                "maxDaysForDownload": 0,
            }
        )
    body: dict[str, Any] = {
        "id": connection.id,
        "name": connection.bank.name,
        "updateStatus": connection.update_status,
        "categorizationStatus": connection.categorization_status,
        "interfaces": interfaces,
        "accountIds": [a.id for a in connection.accounts],
        "owners": None,
        "bank": bank(connection.bank, version),
    }
    if version == "v1":
        latest = max(connection.last_manual_update.values(), key=lambda r: r.timestamp, default=None)
        body |= {
            "bankId": connection.bank.id,
            "bankingUserId": "XXXXX",
            "bankingCustomerId": None,
            "bankingPin": "XXXXX" if "PIN" in connection.stored_credentials else None,
            "type": "ONLINE",
            "lastManualUpdate": _result(latest, version),
            "lastAutoUpdate": None,
            "ibanOnlyMoneyTransferSupported": True,
            "ibanOnlyDirectDebitSupported": True,
            "collectiveMoneyTransferSupported": True,
            "defaultTwoStepProcedureId": None,
            "twoStepProcedures": two_step_procedures(),
            "furtherLoginNotRecommended": connection.user_action_required,
        }
    return body


def account(account: Account, connection: Connection, version: str) -> dict[str, Any]:
    interfaces = [
        {
            _interface_key(version): name,
            "status": account.status,
            "capabilities": ["DATA_DOWNLOAD", "SEPA_MONEY_TRANSFER"],
            "paymentCapabilities": {"sepaInstantMoneyTransfer": False},
            "lastSuccessfulUpdate": date(account.last_successful_update, version),
            "lastUpdateAttempt": date(account.last_update_attempt, version),
        }
        for name in connection.bank.interfaces
    ]
    return {
        "id": account.id,
        "bankConnectionId": connection.id,
        "accountName": account.name,
        "iban": account.iban,
        "accountNumber": account.iban[-10:],
        "subAccountNumber": None,
        "accountHolderName": "Max Mustermann",
        "accountHolderId": "XXXXX",
        "accountCurrency": "EUR",
        "accountTypeId": ACCOUNT_TYPE_IDS[account.account_type],
        "accountTypeName": {"Checking": "Girokonto", "Savings": "Sparkonto"}.get(account.account_type, "Konto"),
        "accountType": account.account_type,
        "balance": account.balance,
        "overdraft": None,
        "overdraftLimit": None,
        "availableFunds": account.balance,
        "lastSuccessfulUpdate": date(account.last_successful_update, version),
        "lastUpdateAttempt": date(account.last_update_attempt, version),
        "isNew": False,
        "isSeized": False,
        "status": account.status,
        "supportedOrders": ["SEPA_MONEY_TRANSFER"],
        "interfaces": interfaces,
        "clearingAccounts": [],
    }


def error_message(
    problem: FinapiProblem, *, version: str, request_id: str, endpoint: str, auth_context: str, now: datetime
) -> dict[str, Any]:
    bank_label = problem.bank
    if bank_label is not None and version == "v2":
        bank_id = 280002 if bank_label.startswith("DEMO0002") else 280001
        bank_label = f"{bank_label} (id: {bank_id}, location: none)"
    return {
        "errors": [
            {
                "message": problem.message,
                "code": problem.code,
                "type": problem.error_type,
                "multiStepAuthentication": problem.msa,
            }
        ],
        "date": date(now, version),
        "requestId": request_id,
        "endpoint": endpoint,
        "authContext": auth_context,
        "bank": bank_label,
    }


def bad_credentials(error: BadCredentials) -> dict[str, Any]:
    return {"error": error.error, "error_description": error.description}


def self_generated_request_id() -> str:
    return f"selfgen-{uuid.uuid4()}"


def _day(day: date_, version: str) -> str:
    return date(datetime.combine(day, time(0), tzinfo=GERMAN_TIME), version) or ""


def transaction(row: Transaction, today: date_, version: str) -> dict[str, Any]:
    """A `Transaction` with every field the spec requires (what the sandbox does not know is null, as finAPI's is)."""
    return {
        "id": row.id,
        "parentId": None,
        "accountId": row.account_id,
        "valueDate": _day(row.value_date, version),
        "bankBookingDate": _day(row.booked_on, version),
        "finapiBookingDate": _day(row.finapi_booking_date(today), version),
        "amount": float(row.amount),
        "currency": "EUR",
        "purpose": row.purpose,
        "counterpartName": row.counterpart,
        "counterpartAccountNumber": row.counterpart_iban[-10:] if row.counterpart_iban else None,
        "counterpartIban": row.counterpart_iban,
        "counterpartBlz": row.counterpart_iban[4:12] if row.counterpart_iban else None,
        "counterpartBic": None,
        "counterpartBankName": None,
        "counterpartMandateReference": None,
        "counterpartCustomerReference": None,
        "counterpartCreditorId": None,
        "counterpartDebitorId": None,
        "type": row.kind,
        "typeCodeZka": None,
        "typeCodeSwift": None,
        "sepaPurposeCode": None,
        "bankTransactionCode": None,
        "primanota": None,
        "category": None,
        "labels": [],
        "isPotentialDuplicate": False,
        "isAdjustingEntry": row.is_adjusting_entry,
        "isNew": row.is_new,
        "importDate": date(row.imported_at, version),
        "children": None,
        "paypalData": None,
        "endToEndReference": None,
        "compensationAmount": None,
        "originalAmount": None,
        "originalCurrency": None,
        "differentDebitor": None,
        "differentCreditor": None,
    }
