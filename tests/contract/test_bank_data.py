"""BankData: the finAPI adapter over HTTP and the in-process fake on the sandbox's model give the same answers (so a
use case proven on the fake holds on finAPI's API), and neither gives a user anything of another's."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from pydantic import SecretStr

from bankupdate.domain.errors import NotFound
from bankupdate.domain.transactions import finapi_day
from bankupdate.finapi import ApiVersion, FinapiClient
from bankupdate.finapi.access_gateway import OwnerPrincipal
from bankupdate.finapi.bank_data import AccessBankData
from bankupdate.finapi.models import FinapiUserCredentials
from bankupdate.ports import BankData
from tests.fakes import InMemoryUserStore
from tests.fakes.bank_data import world_bank_data


@dataclass
class Users:
    store: InMemoryUserStore
    sandbox: Any

    def new(self, accounts: int = 2) -> tuple[str, int]:
        suffix = uuid.uuid4().hex[:8]
        owner, username = f"user-{suffix}", f"finapi-{suffix}"
        self.sandbox.world.create_user(username, "pw")
        connection = self.sandbox.world.add_connection(username, imported_account_count=accounts)
        self.store.put(owner, username, SecretStr("pw"), self.sandbox.world.now())
        return owner, connection


@pytest.fixture
def users(sandbox: Any) -> Users:
    return Users(InMemoryUserStore(), sandbox)


@pytest.fixture(params=["finapi over HTTP", "in-process fake"])
def bank_data(request: pytest.FixtureRequest, sandbox: Any, users: Users) -> Iterator[BankData]:
    if request.param == "in-process fake":
        yield world_bank_data(sandbox.world, users.store)
        return

    def load(owner_id: str) -> FinapiUserCredentials | None:
        found = users.store.get(owner_id)
        return FinapiUserCredentials(username=found.username, password=found.password) if found else None

    with FinapiClient(
        base_url=sandbox.base_url,
        client_id=sandbox.client_id,
        client_secret=sandbox.client_secret,
        api_version=ApiVersion.V1,
    ) as client:
        yield AccessBankData(client, lambda owner_id: OwnerPrincipal(owner_id, load))


def test_both_find_the_same_transactions_by_import_day_and_by_id(
    bank_data: BankData, users: Users, sandbox: Any
) -> None:
    owner, connection = users.new(accounts=3)
    accounts = sandbox.world.connection(connection)["accountIds"]
    today = finapi_day(sandbox.world.now())
    everything = bank_data.imported_since(owner, accounts, today - timedelta(days=1))
    assert everything and {t.account_id for t in everything} == set(accounts)
    assert [t.transaction_id for t in everything] == sorted(t.transaction_id for t in everything)
    one = bank_data.imported_since(owner, accounts[:1], today)
    assert one == [t for t in everything if t.account_id == accounts[0]]
    assert bank_data.imported_since(owner, accounts, today + timedelta(days=1)) == []
    chosen = [t.transaction_id for t in everything[::3]]
    assert bank_data.transactions(owner, [*chosen, 1]) == [t for t in everything if t.transaction_id in chosen]
    # the fake and the adapter hold each other to these exact values: compare the rendering of one
    sample = everything[0]
    row = next(r for r in sandbox.world.ledger.rows(accounts) if r.id == sample.transaction_id)
    assert (sample.amount, sample.bank_booking_date, sample.currency) == (row.amount, row.booked_on, "EUR")
    assert abs((sample.imported_at - row.imported_at).total_seconds()) < 0.001


def test_a_connection_names_its_bank_and_accounts(bank_data: BankData, users: Users, sandbox: Any) -> None:
    owner, connection = users.new(accounts=2)
    found = bank_data.accounts(owner, connection)
    assert found.bank_name == "finAPI Test Bank" and found.connection_id == connection
    assert [a.account_id for a in found.accounts] == sandbox.world.connection(connection)["accountIds"]
    assert all(a.currency == "EUR" and a.balance is not None and a.name for a in found.accounts)


def test_nobody_reads_another_users_data(bank_data: BankData, users: Users, sandbox: Any) -> None:
    mine, _ = users.new()
    theirs, their_connection = users.new()
    their_accounts = sandbox.world.connection(their_connection)["accountIds"]
    today = finapi_day(sandbox.world.now())
    their_ids = [t.transaction_id for t in bank_data.imported_since(theirs, their_accounts, today)]
    assert their_ids
    assert bank_data.imported_since(mine, their_accounts, today) == []
    assert bank_data.transactions(mine, their_ids) == []
    with pytest.raises(NotFound):
        bank_data.accounts(mine, their_connection)
