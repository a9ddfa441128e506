"""finAPI Access client (httpx) and its models. Nothing outside ``finapi`` and ``stores`` imports httpx.

The client (and with it httpx) loads on first use: functions that never call finAPI do not pay for it at cold start.
"""

from typing import TYPE_CHECKING, Any

from bankupdate.domain.model import AccountType, BankingInterface
from bankupdate.finapi.models import (
    AccessToken,
    Account,
    AccountInterface,
    AccountReference,
    AccountStatus,
    AuthenticationRequired,
    BankConnection,
    BankConnectionInterface,
    BankConsent,
    ErrorMessage,
    FinapiUserCredentials,
    LoginCredential,
    MsaStatus,
    MultiStepAuthenticationCallback,
    MultiStepAuthenticationChallenge,
    PsuMetadata,
    Transaction,
    TransactionPage,
    TwoStepProcedure,
    UpdateAccepted,
    UpdateBankConnectionParams,
    UpdateOutcome,
    UpdateResult,
    UpdateResultStatus,
)
from bankupdate.finapi.versions import ApiVersion

if TYPE_CHECKING:
    from bankupdate.finapi.client import FinapiClient, psu_headers


def __getattr__(name: str) -> Any:
    if name in ("FinapiClient", "psu_headers"):
        from bankupdate.finapi import client

        return getattr(client, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "AccessToken",
    "Account",
    "AccountInterface",
    "AccountReference",
    "AccountStatus",
    "AccountType",
    "ApiVersion",
    "AuthenticationRequired",
    "BankConnection",
    "BankConnectionInterface",
    "BankConsent",
    "BankingInterface",
    "ErrorMessage",
    "FinapiClient",
    "FinapiUserCredentials",
    "LoginCredential",
    "MsaStatus",
    "MultiStepAuthenticationCallback",
    "MultiStepAuthenticationChallenge",
    "PsuMetadata",
    "Transaction",
    "TransactionPage",
    "TwoStepProcedure",
    "UpdateAccepted",
    "UpdateBankConnectionParams",
    "UpdateOutcome",
    "UpdateResult",
    "UpdateResultStatus",
    "psu_headers",
]
