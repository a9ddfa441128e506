"""What the Access sandbox keeps: finAPI users, their bank connections and accounts, pending SCA, downloads, calls."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from finapi_sandbox.banks import Bank


@dataclass
class Account:
    id: int
    index: int  # position in the bank's account list
    name: str
    iban: str
    account_type: str
    balance: float
    status: str = "UPDATED"
    last_successful_update: datetime | None = None
    last_update_attempt: datetime | None = None
    transactions: int = 0


@dataclass
class UpdateResultState:
    result: str
    timestamp: datetime
    error_message: str | None = None
    error_type: str | None = None


@dataclass
class PendingChallenge:
    hash: str
    status: str
    created_at: datetime
    procedure_id: str | None = None
    redirect_context: str | None = None
    tan_attempts: int = 0
    decoupled_polls: int = 0
    store_secrets: bool = False
    credentials: dict[str, str] = field(default_factory=dict)
    import_new_accounts: bool = False
    account_types: list[str] | None = None
    skip_positions: bool = False
    interface: str = "XS2A"
    user_present: bool = True


@dataclass
class Download:
    started_at: datetime
    duration: float
    user_present: bool
    interface: str
    import_new_accounts: bool
    account_types: list[str] | None
    skip_positions: bool
    outcome: str = "OK"


@dataclass
class Connection:
    id: int
    owner: str
    bank: Bank
    created_at: datetime
    stored_credentials: dict[str, str]
    consent_expires_at: datetime | None
    accounts: list[Account]
    download_seconds: float | None = None
    failing_account_indexes: set[int] = field(default_factory=set)
    user_action_required: bool = False
    update_status: str = "READY"
    categorization_status: str = "READY"
    categorization_started_at: datetime | None = None
    categorization_ready_at: datetime | None = None
    download: Download | None = None
    last_manual_update: dict[str, UpdateResultState] = field(default_factory=dict)
    last_auto_update: dict[str, UpdateResultState] = field(default_factory=dict)
    pending: PendingChallenge | None = None
    unattended_by_day: dict[str, int] = field(default_factory=dict)
    fail_next_update_with: str | None = None
    legacy_web_form: bool = False
    bank_page_url: str | None = None  # ConnectionSeed.bank_page_url


@dataclass
class User:
    username: str
    password: str


@dataclass(frozen=True)
class Call:
    """One request, as the call log keeps it: never a credential, TAN or token. ``psu_present``: it carried
    ``PSU-IP-Address``, so the bank takes it as the user's own access."""

    method: str
    path: str
    connection_id: int | None
    psu_present: bool
    status: int
    at: datetime
