"""The sandbox's in-memory world: finAPI users, their bank connections and accounts, tokens, faults, a call log.

Users, connections and the call log change under the world's lock (tokens and faults, which nothing else depends on,
under their own). Downloads are driven by the clock, not by threads: every read first "settles" a connection,
applying whatever its download has finished by now.
"""

from __future__ import annotations

import random
import threading
from datetime import UTC, datetime, timedelta
from typing import Any

from finapi_sandbox.banks import BANKS, GERMAN_TIME
from finapi_sandbox.config import ConnectionSeed, FaultRule, SandboxConfig
from finapi_sandbox.faults import FaultRules
from finapi_sandbox.ledger import Ledger
from finapi_sandbox.state import Account, Call, Connection, Download, UpdateResultState, User
from finapi_sandbox.tokens import Tokens


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
            self.tokens = Tokens(self.config.token_ttl_seconds)
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

    def expire_tokens(self) -> None:
        """Make every access token invalid at once (as if finAPI revoked them)."""
        self.tokens.expire_access()

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
