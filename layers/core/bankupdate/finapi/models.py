"""finAPI Access models (official OpenAPI 1.151.1; V2 differences noted), version-independent inside our code.

Response models ignore unknown fields (finAPI adds fields without notice) and accept both generations' spellings;
request models are serialised per version by ``versions.py``. Secrets are ``SecretStr``: a repr or log shows ``**``.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any

from pydantic import AliasChoices, BaseModel, BeforeValidator, ConfigDict, Field, SecretStr

from bankupdate.domain.model import AccountType, BankingInterface  # finAPI's own enums, shared with the domain
from bankupdate.finapi.dates import parse_finapi_datetime


class MsaStatus(StrEnum):
    CHALLENGE_RESPONSE_REQUIRED = "CHALLENGE_RESPONSE_REQUIRED"
    TWO_STEP_PROCEDURE_REQUIRED = "TWO_STEP_PROCEDURE_REQUIRED"
    REDIRECT_REQUIRED = "REDIRECT_REQUIRED"
    DECOUPLED_AUTH_REQUIRED = "DECOUPLED_AUTH_REQUIRED"
    DECOUPLED_AUTH_IN_PROGRESS = "DECOUPLED_AUTH_IN_PROGRESS"


class UpdateResultStatus(StrEnum):
    OK = "OK"
    BANK_SERVER_REJECTION = "BANK_SERVER_REJECTION"
    INTERNAL_SERVER_ERROR = "INTERNAL_SERVER_ERROR"


class AccountStatus(StrEnum):
    UPDATED = "UPDATED"
    UPDATED_FIXED = "UPDATED_FIXED"
    DOWNLOAD_IN_PROGRESS = "DOWNLOAD_IN_PROGRESS"
    DOWNLOAD_FAILED = "DOWNLOAD_FAILED"
    DEPRECATED = "DEPRECATED"


FinapiDateTime = Annotated[datetime, BeforeValidator(parse_finapi_datetime)]


# defer_build: a model's validator is built on first use, so a cold start pays only for the finAPI models the
# function really touches (building all of them at import took ~14 ms, bench/cold_start.py).
class _Response(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True, frozen=True, defer_build=True)


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True, defer_build=True)


# ------------------------------------------------------------------------------------------------------- requests


class LoginCredential(_Request):
    label: str = Field(min_length=1)
    value: SecretStr


class AccountReference(_Request):
    iban: str = Field(min_length=1)


class MultiStepAuthenticationCallback(_Request):
    hash: str = Field(min_length=1)
    challenge_response: SecretStr | None = None
    two_step_procedure_id: str | None = None
    redirect_callback: SecretStr | None = None
    decoupled_callback: bool | None = None


class UpdateBankConnectionParams(_Request):
    bank_connection_id: int = Field(gt=0)
    interface: BankingInterface | None = None
    login_credentials: list[LoginCredential] | None = None
    store_secrets: bool = False
    import_new_accounts: bool = False
    skip_positions_download: bool = False
    skip_balances_download: bool = False  # V2 only, and only with skip_positions_download
    load_owner_data: bool = False
    account_types: list[AccountType] | None = None
    account_references: list[AccountReference] | None = None
    redirect_url: str | None = None
    multi_step_authentication: MultiStepAuthenticationCallback | None = None


class PsuMetadata(_Request):
    """Tells the bank the user is present (then the call does not count against the 4-per-day limit)."""

    ip_address: str | None = None
    device_os: str | None = None
    user_agent: str | None = None


class FinapiUserCredentials(_Request):
    username: str = Field(min_length=1)
    password: SecretStr

    @property
    def cache_key(self) -> str:
        return self.username

    def credentials(self) -> FinapiUserCredentials:
        return self


# ------------------------------------------------------------------------------------------------------- responses


class AccessToken(_Response):
    access_token: SecretStr
    token_type: str = "bearer"  # noqa: S105 - the OAuth token type, not a secret
    expires_in: int
    scope: str | None = None
    refresh_token: SecretStr | None = None


class TwoStepProcedure(_Response):
    procedure_id: str = Field(validation_alias=AliasChoices("procedureId", "procedure_id"))
    procedure_name: str = Field(validation_alias=AliasChoices("procedureName", "procedure_name"))
    procedure_challenge_type: str | None = Field(
        None, validation_alias=AliasChoices("procedureChallengeType", "procedure_challenge_type")
    )
    implicit_execute: bool = Field(False, validation_alias=AliasChoices("implicitExecute", "implicit_execute"))


class MultiStepAuthenticationChallenge(_Response):
    hash: str
    status: MsaStatus
    challenge_message: str | None = Field(None, validation_alias=AliasChoices("challengeMessage", "challenge_message"))
    answer_field_label: str | None = Field(
        None, validation_alias=AliasChoices("answerFieldLabel", "answer_field_label")
    )
    redirect_url: str | None = Field(None, validation_alias=AliasChoices("redirectUrl", "redirect_url"))
    redirect_context: str | None = Field(None, validation_alias=AliasChoices("redirectContext", "redirect_context"))
    redirect_context_field: str | None = Field(
        None, validation_alias=AliasChoices("redirectContextField", "redirect_context_field")
    )
    two_step_procedures: list[TwoStepProcedure] | None = Field(
        None, validation_alias=AliasChoices("twoStepProcedures", "two_step_procedures")
    )
    photo_tan_mime_type: str | None = Field(
        None, validation_alias=AliasChoices("photoTanMimeType", "photo_tan_mime_type")
    )
    photo_tan_data: str | None = Field(None, validation_alias=AliasChoices("photoTanData", "photo_tan_data"))
    optical_data: str | None = Field(None, validation_alias=AliasChoices("opticalData", "optical_data"))


class ErrorDetails(_Response):
    message: str | None = None
    code: str
    type: str | None = None
    multi_step_authentication: MultiStepAuthenticationChallenge | None = Field(
        None, validation_alias=AliasChoices("multiStepAuthentication", "multi_step_authentication")
    )


class ErrorMessage(_Response):
    errors: list[ErrorDetails]
    date: str | None = None
    request_id: str | None = Field(None, validation_alias=AliasChoices("requestId", "request_id"))
    endpoint: str | None = None
    auth_context: str | None = Field(None, validation_alias=AliasChoices("authContext", "auth_context"))
    bank: str | None = None


class BadCredentialsError(_Response):
    error: str
    error_description: str | None = Field(None, validation_alias=AliasChoices("error_description", "errorDescription"))


class BankConsent(_Response):
    status: str
    expires_at: FinapiDateTime | None = Field(None, validation_alias=AliasChoices("expiresAt", "expires_at"))


class UpdateResult(_Response):
    result: UpdateResultStatus
    error_message: str | None = Field(None, validation_alias=AliasChoices("errorMessage", "error_message"))
    error_type: str | None = Field(None, validation_alias=AliasChoices("errorType", "error_type"))
    timestamp: FinapiDateTime


class LoginCredentialResource(_Response):
    """A login field the bank wants (stored values come masked or null; we only ever read the label)."""

    label: str


class BankConnectionInterface(_Response):
    interface: BankingInterface = Field(validation_alias=AliasChoices("interface", "bankingInterface"))
    login_credentials: list[LoginCredentialResource] = Field(
        default_factory=list, validation_alias=AliasChoices("loginCredentials", "login_credentials")
    )
    ais_consent: BankConsent | None = Field(None, validation_alias=AliasChoices("aisConsent", "ais_consent"))
    last_manual_update: UpdateResult | None = Field(
        None, validation_alias=AliasChoices("lastManualUpdate", "last_manual_update")
    )
    last_auto_update: UpdateResult | None = Field(
        None, validation_alias=AliasChoices("lastAutoUpdate", "last_auto_update")
    )
    user_action_required: bool = Field(
        False, validation_alias=AliasChoices("userActionRequired", "user_action_required")
    )
    two_step_procedures: list[TwoStepProcedure] = Field(
        default_factory=list, validation_alias=AliasChoices("twoStepProcedures", "two_step_procedures")
    )
    default_two_step_procedure_id: str | None = Field(
        None, validation_alias=AliasChoices("defaultTwoStepProcedureId", "default_two_step_procedure_id")
    )


class BankConnection(_Response):
    id: int
    name: str | None = None
    update_status: str = Field(validation_alias=AliasChoices("updateStatus", "update_status"))
    categorization_status: str | None = Field(
        None, validation_alias=AliasChoices("categorizationStatus", "categorization_status")
    )
    interfaces: list[BankConnectionInterface] = Field(default_factory=list)
    account_ids: list[int] = Field(default_factory=list, validation_alias=AliasChoices("accountIds", "account_ids"))
    bank: dict[str, Any] | None = None


class AccountInterface(_Response):
    interface: BankingInterface = Field(validation_alias=AliasChoices("interface", "bankingInterface"))
    status: AccountStatus
    last_successful_update: FinapiDateTime | None = Field(
        None, validation_alias=AliasChoices("lastSuccessfulUpdate", "last_successful_update")
    )
    last_update_attempt: FinapiDateTime | None = Field(
        None, validation_alias=AliasChoices("lastUpdateAttempt", "last_update_attempt")
    )


class Account(_Response):
    id: int
    bank_connection_id: int = Field(validation_alias=AliasChoices("bankConnectionId", "bank_connection_id"))
    account_name: str | None = Field(None, validation_alias=AliasChoices("accountName", "account_name"))
    iban: str | None = None
    account_type: AccountType | None = Field(None, validation_alias=AliasChoices("accountType", "account_type"))
    balance: float | None = None
    account_currency: str | None = Field(None, validation_alias=AliasChoices("accountCurrency", "account_currency"))
    status: AccountStatus | None = None
    last_successful_update: FinapiDateTime | None = Field(
        None, validation_alias=AliasChoices("lastSuccessfulUpdate", "last_successful_update")
    )
    interfaces: list[AccountInterface] = Field(default_factory=list)


class Transaction(_Response):
    """The fields of finAPI's `Transaction` this service reads (the spec has 39)."""

    id: int
    account_id: int = Field(validation_alias=AliasChoices("accountId", "account_id"))
    amount: Decimal
    currency: str | None = None
    bank_booking_date: FinapiDateTime = Field(validation_alias=AliasChoices("bankBookingDate", "bank_booking_date"))
    value_date: FinapiDateTime | None = Field(None, validation_alias=AliasChoices("valueDate", "value_date"))
    import_date: FinapiDateTime = Field(validation_alias=AliasChoices("importDate", "import_date"))
    purpose: str | None = None
    counterpart_name: str | None = Field(None, validation_alias=AliasChoices("counterpartName", "counterpart_name"))
    counterpart_iban: str | None = Field(None, validation_alias=AliasChoices("counterpartIban", "counterpart_iban"))
    type: str | None = None
    is_adjusting_entry: bool = Field(False, validation_alias=AliasChoices("isAdjustingEntry", "is_adjusting_entry"))
    is_potential_duplicate: bool = Field(
        False, validation_alias=AliasChoices("isPotentialDuplicate", "is_potential_duplicate")
    )
    is_new: bool = Field(True, validation_alias=AliasChoices("isNew", "is_new"))


class Paging(_Response):
    page: int
    per_page: int = Field(validation_alias=AliasChoices("perPage", "per_page"))
    page_count: int = Field(validation_alias=AliasChoices("pageCount", "page_count"))
    total_count: int = Field(validation_alias=AliasChoices("totalCount", "total_count"))


class TransactionPage(_Response):
    """finAPI's `PageableTransactionList` (its totals across pages are not read)."""

    transactions: list[Transaction]
    paging: Paging


# ------------------------------------------------------------------------------------------------------- outcomes


class UpdateAccepted(_Response):
    """200: the bank login (and any SCA) succeeded; the download now runs asynchronously."""

    connection: BankConnection
    request_id: str | None = None
    psu_ip_address_refused: bool = False  # finAPI took the call only without the user's IP address


class AuthenticationRequired(_Response):
    """510: the bank needs the user (another multi-step authentication round)."""

    challenge: MultiStepAuthenticationChallenge
    message: str | None = None
    request_id: str | None = None
    psu_ip_address_refused: bool = False  # finAPI took the call only without the user's IP address


UpdateOutcome = UpdateAccepted | AuthenticationRequired
