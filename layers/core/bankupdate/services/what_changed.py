"""What an update brought, worked out when it succeeds: per account the transactions finAPI imported (and removed)
since the connection's last look, and the balance before. The connection's change log moves on in the same write
(decision D29), so the sync cursor hands out exactly what the counts say.

Called once per successful update, from the look that sees the download end (``LookLoop._succeed``). A repeat of that
look (a duplicated message, a retry after a crash) finds its own entries in the log and says the same again. If
finAPI cannot be read, the update still succeeds, its counts unknown; the next update's look finds what this one
missed (nothing is counted twice or lost: the log only ever moves past what it recorded).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from bankupdate.domain.errors import BankUpdateError
from bankupdate.domain.model import AccountOutcome, UpdateRecord, UpdateResult
from bankupdate.domain.transactions import (
    AccountChange,
    ChangeEntry,
    ScanState,
    advance,
    balance_before,
    entries,
    per_account,
    scan,
    search_day,
    to_confirm,
)
from bankupdate.observability import logger
from bankupdate.ports import BankData, ChangeLog, StaleChanges, UpdateStore
from bankupdate.settings import Settings

_ATTEMPTS = 3
_DOWNLOADED = ("UPDATED", "UPDATED_FIXED")  # finAPI's account statuses after a download of the account


@dataclass(frozen=True)
class _Recorded:
    entries: Sequence[ChangeEntry]
    amounts: dict[int, Decimal]  # of the added transactions finAPI has (in memory only)
    previous_update_id: str | None


@dataclass
class WhatChanged:
    bank_data: BankData
    log: ChangeLog
    updates: UpdateStore
    settings: Settings

    def summarise(self, record: UpdateRecord, result: UpdateResult, now: datetime) -> UpdateResult:
        """``result`` with each account's imported and removed transactions and its balance before."""
        try:
            recorded = self._record(record, result.accounts, now)
        except (BankUpdateError, StaleChanges) as error:
            code = error.code if isinstance(error, BankUpdateError) else "STALE_CHANGES"
            logger.warning("what the update brought is not known; the next update finds it", extra={"error_code": code})
            self._remember_start(record)
            return result
        changes = per_account(recorded.entries, recorded.amounts)
        before = self._balances_of(recorded.previous_update_id)
        accounts = tuple(self._account(a, changes.get(a.account_id), before) for a in result.accounts)
        return result.model_copy(update={"accounts": accounts})

    def _record(self, record: UpdateRecord, accounts: Sequence[AccountOutcome], now: datetime) -> _Recorded:
        owner, connection = record.owner_id, record.connection_id
        account_ids = [a.account_id for a in accounts]
        downloaded = [a.account_id for a in accounts if a.status in _DOWNLOADED]
        baseline = record.finapi_called_at or record.triggered_at or record.created_at
        for _ in range(_ATTEMPTS):
            state = self.log.state(owner, connection)
            if state is not None and state.last_update_id == record.update_id:
                return self._again(owner, connection, state)
            found = self.bank_data.imported_since(owner, account_ids, search_day(state, baseline))
            asked = to_confirm(state, found)
            confirmed = self.bank_data.transactions(owner, asked) if asked else []
            looked = scan(
                state, found, confirmed, update_id=record.update_id, baseline=baseline, now=now, downloaded=downloaded
            )
            head = state.head if state else 0
            made = entries(looked, first_seq=head + 1, update_id=record.update_id, at=now)
            moved = advance(looked.state, made, now=now, keep_days=self.settings.changes_retention_days)
            try:
                self.log.record(owner, connection, moved, made, expected=state.version if state else 0, at=now)
            except StaleChanges:
                continue  # another look at this connection wrote first: look again from where it left off
            amounts = {t.transaction_id: t.amount for t in looked.added}
            return _Recorded(made, amounts, looked.state.previous_update_id)
        raise StaleChanges(f"the change log of connection {connection} kept moving")

    def _remember_start(self, record: UpdateRecord) -> None:
        """A connection's first look that could not read finAPI keeps its update's start, so the next look counts
        this update's transactions too (without it, the next look would count only its own)."""
        baseline = record.finapi_called_at or record.triggered_at or record.created_at
        try:
            if self.log.state(record.owner_id, record.connection_id) is None:
                self.log.record(
                    record.owner_id,
                    record.connection_id,
                    ScanState(counting_from=baseline),
                    [],
                    expected=0,
                    at=baseline,
                )
        except StaleChanges:
            pass  # another look wrote first: it knows where to count from

    def _again(self, owner: str, connection: int, state: ScanState) -> _Recorded:
        """This update's look is recorded already: the same entries, amounts read again (finAPI has them)."""
        found = [self.log.entry(owner, connection, seq) for seq in state.last_entries]
        made = [entry for entry in found if entry is not None]  # gone only after the retention
        added = [i for entry in made for _, i in entry.added]
        amounts = {t.transaction_id: t.amount for t in self.bank_data.transactions(owner, added)} if added else {}
        return _Recorded(made, amounts, state.previous_update_id)

    def _balances_of(self, update_id: str | None) -> dict[int, float | None]:
        """The balances the connection's previous update recorded (gone with its record after the retention)."""
        stored = self.updates.get(update_id) if update_id else None
        if stored is None or stored.record.result is None:
            return {}
        return {a.account_id: a.balance for a in stored.record.result.accounts}

    @staticmethod
    def _account(
        account: AccountOutcome, change: AccountChange | None, before: dict[int, float | None]
    ) -> AccountOutcome:
        return account.model_copy(
            update={
                "imported_transactions": change.imported if change else 0,
                "removed_transactions": change.removed if change else 0,
                "balance_before": balance_before(
                    account.balance,
                    recorded_before=before.get(account.account_id),
                    change=change,
                    new_account=account.new_account,
                ),
            }
        )
