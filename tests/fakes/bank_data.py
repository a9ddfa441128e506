"""``BankData`` read straight from the finAPI sandbox's own model (finapi_sandbox/ledger.py), in process: what the
finAPI adapter reads from the sandbox over HTTP, without the HTTP (tests/contract/test_bank_data.py holds the two to
the same answers). The property tests run thousands of histories through it."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import date, datetime

from bankupdate.domain.errors import NotFound
from bankupdate.domain.transactions import BankTransaction, ConnectionAccounts, finapi_day
from finapi_sandbox.ledger import Ledger, Transaction
from finapi_sandbox.world import World
from tests.fakes.users import InMemoryUserStore


def as_finapi_reports(row: Transaction) -> BankTransaction:
    """What finAPI's answer says of a row: its import time to the millisecond (finAPI's date format)."""
    return BankTransaction(
        transaction_id=row.id,
        account_id=row.account_id,
        amount=row.amount,
        currency="EUR",
        bank_booking_date=row.booked_on,
        value_date=row.value_date,
        imported_at=row.imported_at.replace(microsecond=row.imported_at.microsecond // 1000 * 1000),
        purpose=row.purpose,
        counterpart_name=row.counterpart,
        counterpart_iban=row.counterpart_iban,
        kind=row.kind,
        adjusting_entry=row.is_adjusting_entry,
        potential_duplicate=False,
        is_new=row.is_new,
    )


class LedgerBankData:
    def __init__(
        self,
        ledger: Ledger,
        accounts_of: Callable[[str], Iterable[int]],
        connection_accounts: Callable[[str, int], ConnectionAccounts] | None = None,
    ) -> None:
        self._ledger = ledger
        self._accounts_of = accounts_of
        self._connection_accounts = connection_accounts
        self.calls = 0  # finAPI calls the adapter would make for the same answers
        self._reported: dict[int, BankTransaction] = {}  # a row's report, made once (rows change only by deletion)

    def _report(self, row: Transaction) -> BankTransaction:
        found = self._reported.get(row.id)
        if found is None:
            found = self._reported[row.id] = as_finapi_reports(row)
        return found

    def imported_since(self, owner_id: str, account_ids: Sequence[int], day: date) -> list[BankTransaction]:
        if not account_ids:
            return []
        mine = set(self._accounts_of(owner_id)) & set(account_ids)
        rows = [r for r in self._ledger.rows(sorted(mine)) if finapi_day(r.imported_at) >= day]
        self.calls += max(1, -(-len(rows) // 500))
        return [self._report(r) for r in sorted(rows, key=lambda r: r.id)]

    def transactions(self, owner_id: str, ids: Sequence[int]) -> list[BankTransaction]:
        wanted = set(ids)
        self.calls += -(-len(wanted) // 500)
        rows = [r for r in self._ledger.rows(sorted(self._accounts_of(owner_id))) if r.id in wanted]
        return [self._report(r) for r in sorted(rows, key=lambda r: r.id)]

    def accounts(self, owner_id: str, connection_id: int) -> ConnectionAccounts:
        if self._connection_accounts is None:
            raise NotImplementedError("this fake reads transactions only")
        return self._connection_accounts(owner_id, connection_id)


def world_bank_data(world: World, users: InMemoryUserStore) -> LedgerBankData:
    """The sandbox world's transactions, for our users as the user store maps them to finAPI users."""

    def username(owner_id: str) -> str | None:
        found = users.get(owner_id)
        return found.username if found else None

    def accounts_of(owner_id: str) -> set[int]:
        with world.lock:
            return {a.id for c in world.connections.values() if c.owner == username(owner_id) for a in c.accounts}

    def connection_accounts(owner_id: str, connection_id: int) -> ConnectionAccounts:
        from bankupdate.domain.transactions import AccountNow

        with world.lock:
            connection = world.connections.get(connection_id)
            if connection is None or connection.owner != username(owner_id):
                raise NotFound(f"bank connection {connection_id} is not known for this user")
            world.settle(connection)
            return ConnectionAccounts(
                connection_id=connection.id,
                bank_name=connection.bank.name,
                accounts=tuple(
                    AccountNow(
                        account_id=a.id,
                        name=a.name,
                        iban=a.iban,
                        account_type=a.account_type,
                        balance=a.balance,
                        currency="EUR",
                        last_successful_update=_ms(a.last_successful_update),
                    )
                    for a in sorted(connection.accounts, key=lambda a: a.id)
                ),
            )

    return LedgerBankData(world.ledger, accounts_of, connection_accounts)


def _ms(moment: datetime | None) -> datetime | None:
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000) if moment else None
