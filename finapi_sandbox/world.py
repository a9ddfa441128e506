"""The sandbox's in-memory world: finAPI users, their bank connections and accounts, tokens, faults, a call log.

All state changes happen under one lock. Downloads are driven by the clock, not by threads: every read first
"settles" a connection, applying whatever its download has finished by now.
"""

from __future__ import annotations

import random
import secrets
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from finapi_sandbox.banks import BANKS, GERMAN_TIME, Bank
from finapi_sandbox.config import ConnectionSeed, FaultRule, SandboxConfig
from finapi_sandbox.faults import FaultRules
from finapi_sandbox.ledger import Ledger


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


@dataclass
class Token:
    value: str
    principal: str  # username, or "" for the client
    expires_at: float
    refresh: bool = False
    refresh_value: str | None = None  # an access token's refresh token, given back with it


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


class World:
    def __init__(self, config: SandboxConfig) -> None:
        self.config = config
        self.lock = threading.RLock()
        self._rng = random.Random(config.rng_seed)
        self.base_url = ""
        self.reset()

    # ------------------------------------------------------------------------------------------------ setup

    def reset(self) -> None:
        with self.lock:
            self.users: dict[str, User] = {}
            self.connections: dict[int, Connection] = {}
            self.tokens: dict[str, Token] = {}
            self._current_tokens: dict[str, str] = {}  # principal -> its access token while that is valid
            self.faults = FaultRules(self.config.faults)
            self.call_log: list[Call] = []
            self.clock_offset = 0.0
            self.psu_ipv6 = self.config.psu_ipv6
            self.ledger = Ledger(self.config.rng_seed, self.config.transaction_feed)
            self._next_connection_id = 1
            self._next_account_id = 1
            for user in self.config.users:
                self.create_user(user.username, user.password)
                for seed in user.connections:
                    self._add(user.username, seed)

    def now(self) -> datetime:
        return datetime.now(UTC) + timedelta(seconds=self.clock_offset)

    def set_clock_offset(self, seconds: float) -> None:
        with self.lock:
            self.clock_offset = seconds

    def set_psu_ipv6(self, behaviour: str) -> None:
        """How a non-IPv4 ``PSU-IP-Address`` is taken from now on (``SandboxConfig.psu_ipv6``)."""
        with self.lock:
            self.psu_ipv6 = SandboxConfig.model_validate({"psu_ipv6": behaviour}).psu_ipv6

    def create_user(self, username: str, password: str) -> None:
        with self.lock:
            if username in self.users:
                raise ValueError(f"user {username} exists")
            self.users[username] = User(username, password)

    def add_connection(
        self,
        username: str,
        *,
        bank_blz: str = "DEMO0001",
        stored_pin: bool = False,
        consent_expires_at: datetime | str | None = "default",
        imported_account_count: int = 2,
        download_seconds: float | None = None,
        failing_account_indexes: list[int] | None = None,
        user_action_required: bool = False,
        legacy_web_form: bool = False,
        bank_page_url: str | None = None,
    ) -> int:
        """Add a connection; ``consent_expires_at=None`` means no consent, the default is a fresh 90-day one."""
        days: float | None
        if consent_expires_at == "default":
            days = float(self.config.consent_days)
        elif consent_expires_at is None:
            days = None
        else:
            assert isinstance(consent_expires_at, datetime)
            days = (consent_expires_at - self.now()).total_seconds() / 86400
        seed = ConnectionSeed(
            bank_blz=bank_blz,  # type: ignore[arg-type]
            stored_pin=stored_pin,
            consent_days_left=days,
            imported_account_count=imported_account_count,
            download_seconds=download_seconds,
            failing_account_indexes=failing_account_indexes or [],
            user_action_required=user_action_required,
            legacy_web_form=legacy_web_form,
            bank_page_url=bank_page_url,
        )
        return self._add(username, seed)

    def _add(self, username: str, seed: ConnectionSeed) -> int:
        with self.lock:
            if username not in self.users:
                raise ValueError(f"unknown user {username}")
            connection_id = seed.id or self._next_connection_id
            if connection_id in self.connections:
                raise ValueError(f"connection {connection_id} exists")
            self._next_connection_id = max(self._next_connection_id, connection_id) + 1
            bank = BANKS[seed.bank_blz]
            now = self.now()
            stored = {"Onlinebanking-ID": "demo"} | ({"PIN": "demo"} if seed.stored_pin else {})
            connection = Connection(
                id=connection_id,
                owner=username,
                bank=bank,
                created_at=now,
                stored_credentials=stored,
                consent_expires_at=now + timedelta(days=seed.consent_days_left)
                if seed.consent_days_left is not None
                else None,
                accounts=[],
                download_seconds=seed.download_seconds,
                failing_account_indexes=set(seed.failing_account_indexes),
                user_action_required=seed.user_action_required,
                legacy_web_form=seed.legacy_web_form,
                bank_page_url=seed.bank_page_url,
            )
            for index in range(seed.imported_account_count):
                connection.accounts.append(self._new_account(connection, index, now))
            self.connections[connection_id] = connection
            return connection_id

    def _new_account(self, connection: Connection, index: int, at: datetime) -> Account:
        """An account finAPI imports at ``at``, with the transactions of its last weeks (ledger.HISTORY_DAYS)."""
        template = connection.bank.accounts[index]
        account = Account(
            id=self._next_account_id,
            index=index,
            name=template.name,
            iban=f"DE{(89 + index) % 100:02d}{connection.bank.blz[-4:]}{connection.id:08d}{index:06d}"[:22].ljust(
                22, "0"
            ),
            account_type=template.account_type,
            balance=template.balance,
            last_successful_update=at,
            last_update_attempt=at,
        )
        self._next_account_id += 1
        self.ledger.open_account(account.id, f"{connection.bank.blz}/{connection.id}/{index}", at, template.balance)
        account.transactions = self.ledger.count(account.id)
        return account

    # ------------------------------------------------------------------------------------------------ inspection

    def connection(self, connection_id: int) -> dict[str, Any]:
        with self.lock:
            connection = self.connections[connection_id]
            self.settle(connection)
            return {
                "id": connection.id,
                "owner": connection.owner,
                "bank": connection.bank.blz,
                "updateStatus": connection.update_status,
                "categorizationStatus": connection.categorization_status,
                "consentExpiresAt": connection.consent_expires_at.isoformat()
                if connection.consent_expires_at
                else None,
                "pinStored": "PIN" in connection.stored_credentials,
                "userActionRequired": connection.user_action_required,
                "accountIds": [a.id for a in connection.accounts],
                "accounts": [
                    {
                        "id": a.id,
                        "status": a.status,
                        "transactions": a.transactions,
                        "lastSuccessfulUpdate": a.last_successful_update.isoformat()
                        if a.last_successful_update
                        else None,
                    }
                    for a in connection.accounts
                ],
                "pendingChallenge": connection.pending.status if connection.pending else None,
                "unattendedToday": connection.unattended_by_day.get(self.bank_day(), 0),
            }

    @property
    def calls(self) -> list[Call]:
        with self.lock:
            return list(self.call_log)

    def record_call(self, call: Call) -> None:
        with self.lock:
            self.call_log.append(call)

    def bank_day(self) -> str:
        return self.now().astimezone(GERMAN_TIME).date().isoformat()

    # ------------------------------------------------------------------------------------------------ tokens

    def issue_token(self, principal: str, *, refresh: bool) -> tuple[Token, Token | None]:
        """finAPI: "As long as a token exists and has not expired, the service will always return the same token for
        the same credentials" (with the same refresh token)."""
        with self.lock:
            current = self.tokens.get(self._current_tokens.get(principal, ""))
            if current is not None and current.expires_at > time.monotonic():
                return current, self.tokens.get(current.refresh_value or "")
            return self._new_access(principal, refresh_token=None if not refresh else self._new_refresh(principal))

    def refresh_access(self, refresh_value: str) -> tuple[Token, Token] | None:
        """``grant_type=refresh_token``: a new access token; the refresh token stays the same."""
        with self.lock:
            principal = self.principal_of(refresh_value, refresh=True)
            if not principal:
                return None
            refresh_token = self.tokens[refresh_value]
            access, _ = self._new_access(principal, refresh_token=refresh_token)
            return access, refresh_token

    def _new_refresh(self, principal: str) -> Token:
        token = Token(secrets.token_hex(32), principal, time.monotonic() + 86400, refresh=True)
        self.tokens[token.value] = token
        return token

    def _new_access(self, principal: str, *, refresh_token: Token | None) -> tuple[Token, Token | None]:
        access = Token(
            secrets.token_hex(32),
            principal,
            time.monotonic() + self.config.token_ttl_seconds,
            refresh_value=refresh_token.value if refresh_token else None,
        )
        self.tokens[access.value] = access
        self._current_tokens[principal] = access.value
        return access, refresh_token

    @staticmethod
    def seconds_left(token: Token) -> int:
        return max(1, int(token.expires_at - time.monotonic()))

    def principal_of(self, token: str, *, refresh: bool = False) -> str | None:
        with self.lock:
            found = self.tokens.get(token)
            if found is None or found.refresh != refresh or found.expires_at < time.monotonic():
                return None
            return found.principal

    def expire_tokens(self) -> None:
        """Make every access token invalid at once (as if finAPI revoked them)."""
        with self.lock:
            self.tokens = {k: v for k, v in self.tokens.items() if v.refresh}

    # ------------------------------------------------------------------------------------------------ faults

    def add_fault(self, **rule: Any) -> None:
        self.faults.add(FaultRule.model_validate(rule))

    def clear_faults(self) -> None:
        self.faults.clear()

    def fault_for(self, method: str, path: str, connection_id: int | None, when: str) -> FaultRule | None:
        def fits(rule: FaultRule) -> bool:
            if rule.when != when or (rule.connection_id is not None and rule.connection_id != connection_id):
                return False
            return self._rng.random() < rule.probability

        return self.faults.take(method, path, fits)

    # ------------------------------------------------------------------------------------------------ downloads

    def settle(self, connection: Connection) -> None:
        """Apply what the running download (and categorization) has finished by now."""
        now = self.now()
        download = connection.download
        if download is not None:
            finished_at = download.started_at + timedelta(seconds=download.duration)
            if now >= finished_at:
                self._finish_download(connection, download, finished_at)
                connection.download = None
        started, ready = connection.categorization_started_at, connection.categorization_ready_at
        if connection.categorization_status == "PENDING" and started is not None and now >= started:
            connection.categorization_status = "IN_PROGRESS"
        if connection.categorization_status == "IN_PROGRESS" and ready is not None and now >= ready:
            connection.categorization_status = "READY"

    def _finish_download(self, connection: Connection, download: Download, at: datetime) -> None:
        results = connection.last_manual_update
        outcome = download.outcome
        if outcome == "OK":
            results[download.interface] = UpdateResultState("OK", at)
            if download.import_new_accounts:
                have = {a.index for a in connection.accounts}
                for index, template in enumerate(connection.bank.accounts):
                    wanted = download.account_types is None or template.account_type in download.account_types
                    if index not in have and wanted:
                        connection.accounts.append(self._new_account(connection, index, at))
            for account in connection.accounts:
                account.last_update_attempt = at
                if account.index in connection.failing_account_indexes:
                    account.status = "DOWNLOAD_FAILED"
                    continue
                account.status = "UPDATED"
                account.last_successful_update = at
                if not download.skip_positions:
                    done = self.ledger.download(account.id, at)
                    account.transactions = self.ledger.count(account.id)
                    account.balance = float(self.ledger.balance(account.id))
                    if done.adjusting_entry is not None:
                        account.status = "UPDATED_FIXED"  # spec: up to date, with an adjusting entry added
            # Scheduled (PENDING) for the first half of the categorization time, categorizing (IN_PROGRESS) after.
            categorization = timedelta(seconds=self.config.categorization_seconds)
            connection.categorization_status = "PENDING"
            connection.categorization_started_at = at + categorization / 2
            connection.categorization_ready_at = at + categorization
        else:
            message = (
                "Interner Fehler bei der Kommunikation mit der Bank."
                if outcome != "BANK_SERVER_REJECTION"
                else ("Die Bank hat den Zugriff abgelehnt.")
            )
            results[download.interface] = UpdateResultState(outcome, at, message, "BUSINESS")
            for account in connection.accounts:
                account.status = "DOWNLOAD_FAILED"
                account.last_update_attempt = at
        connection.update_status = "READY"

    def start_download(self, connection: Connection, download: Download) -> None:
        connection.update_status = "IN_PROGRESS"
        for account in connection.accounts:
            account.status = "DOWNLOAD_IN_PROGRESS"
        if connection.fail_next_update_with:
            download.outcome = connection.fail_next_update_with
            connection.fail_next_update_with = None
        connection.download = download
