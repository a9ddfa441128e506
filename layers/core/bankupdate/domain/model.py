"""The records the service keeps about updates and connections, and the values they are made of.

Nothing secret lives in these models: they are what DynamoDB, API answers, events and the state machine may see.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from bankupdate.domain.errors import UpdateError


class UpdateStatus(StrEnum):
    PENDING = "PENDING"
    IN_PROGRESS = "IN_PROGRESS"
    AUTHENTICATION_REQUIRED = "AUTHENTICATION_REQUIRED"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    EXPIRED = "EXPIRED"

    @property
    def is_terminal(self) -> bool:
        return self in _TERMINAL


_TERMINAL = frozenset({UpdateStatus.SUCCEEDED, UpdateStatus.FAILED, UpdateStatus.EXPIRED})


class UpdateMode(StrEnum):
    USER_PRESENT = "USER_PRESENT"
    UNATTENDED = "UNATTENDED"


class BankingInterface(StrEnum):
    WEB_SCRAPER = "WEB_SCRAPER"
    FINTS_SERVER = "FINTS_SERVER"
    XS2A = "XS2A"


class AccountType(StrEnum):
    CHECKING = "Checking"
    SAVINGS = "Savings"
    CREDIT_CARD = "CreditCard"
    SECURITY = "Security"
    LOAN = "Loan"
    POCKET = "Pocket"
    MEMBERSHIP = "Membership"
    BAUSPAREN = "Bausparen"


class ChallengeStatus(StrEnum):
    """finAPI's five MSA statuses, our own for "finAPI needs the login credentials first", and Web Form 2.0's
    "the user must open finAPI's web form" (answered at finAPI, not through our API)."""

    CREDENTIALS_REQUIRED = "CREDENTIALS_REQUIRED"
    TWO_STEP_PROCEDURE_REQUIRED = "TWO_STEP_PROCEDURE_REQUIRED"
    CHALLENGE_RESPONSE_REQUIRED = "CHALLENGE_RESPONSE_REQUIRED"
    REDIRECT_REQUIRED = "REDIRECT_REQUIRED"
    DECOUPLED_AUTH_REQUIRED = "DECOUPLED_AUTH_REQUIRED"
    DECOUPLED_AUTH_IN_PROGRESS = "DECOUPLED_AUTH_IN_PROGRESS"
    WEB_FORM_REQUIRED = "WEB_FORM_REQUIRED"


class Integration(StrEnum):
    """How a deployment reaches finAPI: its own licence (Access update endpoint) or Web Form 2.0 background updates."""

    ACCESS = "ACCESS"
    WEB_FORM = "WEB_FORM"


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)


class TwoStepProcedureOption(_Frozen):
    procedure_id: str
    procedure_name: str
    challenge_type: str | None = None
    implicit_execute: bool = False


class Challenge(_Frozen):
    """The non-secret part of what the bank asks for. ``hash`` is finAPI's flow id: stored, never shown to clients."""

    status: ChallengeStatus
    hash: str | None = None
    message: str | None = None
    answer_field_label: str | None = None
    redirect_url: str | None = None
    redirect_context_field: str | None = None
    two_step_procedures: tuple[TwoStepProcedureOption, ...] = ()
    photo_tan_mime_type: str | None = None
    photo_tan_data: str | None = None
    optical_data: str | None = None
    credential_labels: tuple[str, ...] = ()
    web_form_url: str | None = None
    web_form_expires_at: datetime | None = None
    previous_answer_rejected: bool = False  # the bank asks again for what it just got: a wrong TAN, wrong PIN ...


class UpdateOptions(_Frozen):
    """What the caller asked finAPI to do. Every field here is safe to store; credentials never are."""

    interface: BankingInterface | None = None
    store_secrets: bool = False
    import_new_accounts: bool = False
    skip_positions_download: bool = False
    load_owner_data: bool = False
    account_types: tuple[AccountType, ...] = ()
    account_references: tuple[str, ...] = ()
    redirect_url: str | None = None
    wait_for_categorization: bool = False
    manage_saved_settings: tuple[str, ...] = ()  # Web Form 2.0: let the user change stored credentials / SCA method


class AccountOutcome(_Frozen):
    account_id: int
    name: str | None = None
    iban: str | None = None
    account_type: str | None = None
    status: str
    balance: float | None = None  # after the update, as finAPI reported it
    currency: str | None = None
    new_account: bool = False
    # What the update brought (decision D29); None: not known (the look at the transactions failed).
    imported_transactions: int | None = None
    removed_transactions: int | None = None
    balance_before: float | None = None


class UpdateResult(_Frozen):
    accounts: tuple[AccountOutcome, ...] = ()
    categorization_status: str | None = None
    finished_at: datetime | None = None
    bank_result: str | None = None
    consent_expires_at: datetime | None = None


class UpdateRecord(_Frozen):
    """One update, as stored. Its ``status`` changes only through ``domain.lifecycle``."""

    update_id: str
    owner_id: str
    connection_id: int
    mode: UpdateMode
    status: UpdateStatus
    integration: Integration = Integration.ACCESS
    options: UpdateOptions = Field(default_factory=UpdateOptions)
    challenge: Challenge | None = None
    auth_round: int = 0
    created_at: datetime
    updated_at: datetime
    triggered_at: datetime | None = None
    deadline_at: datetime | None = None
    auth_window_ends_at: datetime | None = None
    last_answer_at: datetime | None = None
    finapi_called_at: datetime | None = None
    start_confirmed: bool = True  # False: finAPI's answer to the update call was lost; only a fresh result counts
    # The user was present, but their IP address did not reach the bank (finAPI refused it, or none was known): the
    # bank takes the access as unattended, and the scheduler counts it against the connection's daily budget.
    counted_as_unattended: bool = False
    upstream_ref: str | None = None  # Web Form 2.0: the background update task's id
    poll_count: int = 0
    known_account_ids: tuple[int, ...] = ()
    result: UpdateResult | None = None
    error: UpdateError | None = None
    execution_arn: str | None = None
    version: int = 0


class ConnectionHealth(_Frozen):
    last_success_at: datetime | None = None
    last_attempt_at: datetime | None = None
    last_outcome: UpdateStatus | None = None
    last_error: UpdateError | None = None
    consent_expires_at: datetime | None = None
    user_action_required: bool = False
    known_account_ids: tuple[int, ...] = ()


class SkipReason(StrEnum):
    """Why a scheduled run left a connection alone; each comes with what the user can do about it."""

    SCHEDULE_DISABLED = "SCHEDULE_DISABLED"
    USER_ACTION_REQUIRED = "USER_ACTION_REQUIRED"
    CONSENT_EXPIRED = "CONSENT_EXPIRED"
    UPDATE_RUNNING = "UPDATE_RUNNING"
    PERMANENT_ERROR = "PERMANENT_ERROR"
    BUDGET_EXHAUSTED = "BUDGET_EXHAUSTED"


class ScheduleState(_Frozen):
    enabled: bool = False
    next_due_at: datetime | None = None
    last_skip_reason: SkipReason | None = None
    last_skip_at: datetime | None = None
    consent_warning_for: datetime | None = None


class ConnectionRecord(_Frozen):
    owner_id: str
    connection_id: int
    created_at: datetime
    active_update_id: str | None = None
    lock_expires_at: datetime | None = None
    health: ConnectionHealth = Field(default_factory=ConnectionHealth)
    schedule: ScheduleState = Field(default_factory=ScheduleState)
    unattended: dict[str, int] = Field(default_factory=dict)  # bank day (ISO date) -> unattended accesses
    # Interfaces that log in through the bank's website: only for them may an update carry a redirectUrl (finAPI).
    # None: not known (the connection was recorded before this was).
    redirect_interfaces: tuple[str, ...] | None = None
    # When (epoch seconds, rounded up) the last user-present updates counted against the rate limit were admitted:
    # at most the limit's number of them, oldest first (domain.trigger_rate.TriggerRate).
    user_triggers: tuple[int, ...] = ()
    version: int = 0
