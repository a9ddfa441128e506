"""The sync cursor's promises over random histories (hypothesis, 500 of them): updates of two users' connections at
random moments (minutes, days, months apart), partial downloads, finAPI unreadable now and then, looks repeated,
bookings the bank drops, and cursor readers reading pages of random sizes in between (two readers on one cursor at
once). Over each history:

* every transaction finAPI imports reaches each reader that started before it exactly once: in ``added``, or in
  ``removed`` if finAPI removed it before the reader got there; a removal the service noticed comes once;
* the counts the updates report equal what the cursor delivers for them;
* no reader ever sees another user's transaction, and another user's cursor is refused.

The system is the real use cases and flow over the in-memory ports, finAPI's data read in process from the sandbox's
own model (tests/fakes/bank_data.py, held to the finAPI adapter by tests/contract/test_bank_data.py)."""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from bankupdate.domain.errors import InvalidCursor, NotFound, UpstreamUnavailable
from bankupdate.domain.model import AccountOutcome, UpdateMode, UpdateRecord, UpdateResult, UpdateStatus
from bankupdate.domain.transactions import BankTransaction
from bankupdate.domain.upstream import ConnectionFacts
from bankupdate.services.what_changed import WhatChanged
from bankupdate.settings import Settings
from bankupdate.usecases.bank_data import ChangesRequest, ReadTransactionChanges
from finapi_sandbox.ledger import FeedConfig, Ledger
from tests.fakes import (
    ConnectionItems,
    InMemoryChangeLog,
    InMemoryConnectionStore,
    InMemoryUpdateStore,
    ManualClock,
    StaticCursorKeys,
)
from tests.fakes.bank_data import LedgerBankData
from tests.usecases.system import BASE_ENVIRONMENT

HISTORIES = int(os.environ.get("CHANGES_PROPERTY_HISTORIES", "500"))
START = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)
USERS = ("alice", "bob")
SETTINGS = Settings.model_validate(BASE_ENVIRONMENT | {"FINAPI_BASE_URL": "https://finapi.invalid"})
# Busier than the default bank: more future-booked bookings, more of them dropped, so that removals happen often.
FEED = FeedConfig(quiet_day_share=0.3, busy_day_share=0.1, future_booked_share=0.3, dropped_share=0.5)


class FlakyBankData(LedgerBankData):
    """finAPI's data as the sandbox has it; unreadable while ``down``."""

    down = False

    def imported_since(self, owner_id: str, account_ids: Any, day: Any) -> list[BankTransaction]:
        if self.down:
            raise UpstreamUnavailable("finAPI unreachable (the history says so)")
        return super().imported_since(owner_id, account_ids, day)


@dataclass
class Reader:
    cursor: str
    started_after: int  # the number of successful looks at its connection when it started
    added: list[int] = field(default_factory=list)
    removed: list[int] = field(default_factory=list)


@dataclass
class Connection:
    owner: str
    connection_id: int
    accounts: list[int]
    looks: int = 0  # successful looks (summaries) so far
    unseen: set[int] = field(default_factory=set)  # imported by finAPI, not yet counted by a successful look
    unnoticed: set[int] = field(default_factory=set)  # removed by finAPI, not yet noticed by a successful look
    open_update: tuple[UpdateRecord, list[AccountOutcome]] | None = None
    readers: list[Reader] = field(default_factory=list)


@dataclass
class World:
    """One history's system and its truth (what the sandbox's finAPI really did)."""

    ledger: Ledger
    clock: ManualClock
    bank_data: FlakyBankData
    what_changed: WhatChanged
    read: ReadTransactionChanges
    updates: InMemoryUpdateStore
    connections: dict[str, Connection]
    origin: dict[int, tuple[str, str]] = field(default_factory=dict)  # id -> (owner, the look that counted it)
    owner_of: dict[int, str] = field(default_factory=dict)  # every id finAPI ever imported -> its user
    counted_at: dict[int, int] = field(default_factory=dict)  # id -> the look number (per connection) that counted it
    noticed_at: dict[int, int] = field(default_factory=dict)  # removed id -> the look number that noticed it
    reported: dict[tuple[str, int], int] = field(default_factory=dict)  # (update, account) -> imported count
    look_number: dict[str, int] = field(default_factory=dict)  # update -> its look's number (per connection)
    account_of: dict[int, int] = field(default_factory=dict)  # id -> its account


def build(seed: int, accounts: tuple[int, int]) -> World:
    ledger = Ledger(seed, FEED)
    clock = ManualClock(START)
    store = InMemoryConnectionStore(ConnectionItems())
    connections: dict[str, Connection] = {}
    next_account = 100
    for n, owner in enumerate(USERS):
        ids = list(range(next_account, next_account + accounts[n]))
        next_account += 10
        for account in ids:
            ledger.open_account(account, f"DEMO0001/{n + 1}/{account}", START, 500 + account)
        connections[owner] = Connection(owner, n + 1, ids)
        store.record_facts(owner, ConnectionFacts(n + 1, tuple(ids), None, False), START)
    owned = {owner: c.accounts for owner, c in connections.items()}
    bank_data = FlakyBankData(ledger, lambda owner: owned.get(owner, []))
    updates, log = InMemoryUpdateStore(), InMemoryChangeLog()
    what_changed = WhatChanged(bank_data, log, updates, SETTINGS)
    read = ReadTransactionChanges(store, log, bank_data, StaticCursorKeys(), clock.port, SETTINGS)
    world = World(ledger, clock, bank_data, what_changed, read, updates, connections)
    for connection in connections.values():
        for row in ledger.rows(connection.accounts):
            world.owner_of[row.id] = connection.owner
    clock.advance(600)  # the first update starts well after the connections' import
    return world


# ---------------------------------------------------------------------------------------------- the steps


def advance(world: World, seconds: float) -> None:
    world.clock.advance(seconds)


def download(world: World, owner: str, failing: frozenset[int]) -> None:
    """finAPI runs an update: the accounts not failing are downloaded (a partial download when some fail)."""
    connection = world.connections[owner]
    if connection.open_update is not None:
        return  # one update per connection (the lock)
    now = world.clock.now()
    record = UpdateRecord(
        update_id=uuid.uuid4().hex,
        owner_id=owner,
        connection_id=connection.connection_id,
        mode=UpdateMode.USER_PRESENT,
        status=UpdateStatus.IN_PROGRESS,
        created_at=now,
        updated_at=now,
        finapi_called_at=now,
    )
    world.clock.advance(5)  # the download takes a few seconds
    at = world.clock.now()
    outcomes = []
    for index, account in enumerate(connection.accounts):
        if index in failing:
            event("a partial download")
            outcomes.append(AccountOutcome(account_id=account, status="DOWNLOAD_FAILED", balance=None))
            continue
        done = world.ledger.download(account, at)
        if done.adjusting_entry is not None:
            event("an adjusting entry after a long gap")
        if done.removed:
            event("finAPI removed a transaction the bank dropped")
        for i in done.imported:
            world.owner_of[i], world.account_of[i] = owner, account
        connection.unseen = (connection.unseen | set(done.imported)) - set(done.removed)
        connection.unnoticed |= {i for i in done.removed if i in world.origin}
        balance = float(world.ledger.balance(account))
        outcomes.append(AccountOutcome(account_id=account, status="UPDATED", balance=balance, currency="EUR"))
    connection.open_update = (record, outcomes)


def finish(world: World, owner: str, *, finapi_down: bool, repeat: bool) -> None:
    """The look that sees the download end: what the update brought, then the update succeeds."""
    connection = world.connections[owner]
    if connection.open_update is None:
        return
    record, outcomes = connection.open_update
    world.clock.advance(1)
    world.bank_data.down = finapi_down
    try:
        result = world.what_changed.summarise(record, UpdateResult(accounts=tuple(outcomes)), world.clock.now())
        if repeat:  # a duplicated look message: the same summary, nothing counted twice
            again = world.what_changed.summarise(record, UpdateResult(accounts=tuple(outcomes)), world.clock.now())
            assert again == result
    finally:
        world.bank_data.down = False
    world.updates.create(record.model_copy(update={"status": UpdateStatus.SUCCEEDED, "result": result}))
    connection.open_update = None
    if result.accounts and result.accounts[0].imported_transactions is None:
        event("finAPI unreadable at the end of an update")
        assert finapi_down
        return  # counts unknown: the next successful look counts them
    connection.looks += 1
    world.look_number[record.update_id] = connection.looks
    for outcome in result.accounts:
        world.reported[(record.update_id, outcome.account_id)] = outcome.imported_transactions or 0
        assert outcome.removed_transactions is not None
    for i in connection.unseen:
        world.origin[i] = (owner, record.update_id)
        world.counted_at[i] = connection.looks
    for i in connection.unnoticed:
        world.noticed_at[i] = connection.looks
    if connection.unnoticed:
        event("a look noticed a removal")
    if sum(o.imported_transactions or 0 for o in result.accounts) == 0:
        event("an update that brought nothing")
    assert sum(o.imported_transactions or 0 for o in result.accounts) == len(connection.unseen)
    assert sum(o.removed_transactions or 0 for o in result.accounts) == len(connection.unnoticed)
    connection.unseen, connection.unnoticed = set(), set()


def read(world: World, owner: str, reader_index: int, limit: int) -> None:
    """A reader reads one page; a second reader with the same cursor at the same time gets the same page."""
    connection = world.connections[owner]
    if reader_index >= len(connection.readers):
        page = world.read(ChangesRequest(owner, connection.connection_id))
        connection.readers.append(Reader(page.next_cursor, connection.looks))
        return
    reader = connection.readers[reader_index]
    request = ChangesRequest(owner, connection.connection_id, cursor=reader.cursor, limit=limit)
    page, twin = world.read(request), world.read(request)
    assert page == twin
    if page.has_more:
        event("a reader paged through more than one page")
    reader.added += [a.transaction.transaction_id for a in page.added]
    reader.removed += [r.transaction_id for r in page.removed]
    reader.cursor = page.next_cursor
    for added in page.added:
        assert world.origin[added.transaction.transaction_id] == (owner, added.update_id)


def trespass(world: World, owner: str) -> None:
    """Another user's cursor on one's own connection is refused; another user's connection is not there."""
    other = next(o for o in USERS if o != owner)
    mine, theirs = world.connections[owner], world.connections[other]
    if theirs.readers:
        with pytest.raises(InvalidCursor):
            world.read(ChangesRequest(owner, mine.connection_id, cursor=theirs.readers[0].cursor))
    with pytest.raises(NotFound):
        world.read(ChangesRequest(owner, theirs.connection_id))


def drain(world: World, reader: Reader, owner: str) -> None:
    connection = world.connections[owner]
    for _ in range(10_000):
        page = world.read(ChangesRequest(owner, connection.connection_id, cursor=reader.cursor, limit=25))
        if page.has_more:
            event("a reader paged through more than one page")
        reader.added += [a.transaction.transaction_id for a in page.added]
        reader.removed += [r.transaction_id for r in page.removed]
        reader.cursor = page.next_cursor
        if not page.has_more:
            return
    raise AssertionError("the pages never end")


# ---------------------------------------------------------------------------------------------- the histories

# How far the clock moves: minutes to days (several updates a day, quiet and busy days, bookings the bank drops a few
# days on), now and then months (longer than finAPI's 89-day window: adjusting entries; rarer, each costs the bank
# months of bookings).
gaps = st.sampled_from(["minutes", "hours", "hours", "day", "day", "days", "days", "months"]).flatmap(
    lambda kind: {
        "minutes": st.floats(60, 3600),
        "hours": st.floats(3 * 3600, 14 * 3600),
        "day": st.just(86400.0),
        "days": st.floats(2 * 86400, 4 * 86400),
        "months": st.floats(90 * 86400, 120 * 86400),
    }[kind]
)
owners = st.sampled_from(USERS)
failing = st.frozensets(st.integers(0, 2), max_size=2)
kinds = {
    "advance": st.tuples(st.just("advance"), gaps),
    "update": st.tuples(st.just("update"), owners, failing, st.sampled_from([False] * 7 + [True])),
    "download": st.tuples(st.just("download"), owners, failing),
    "finish": st.tuples(st.just("finish"), owners, st.booleans(), st.booleans()),
    "read": st.tuples(st.just("read"), owners, st.integers(0, 2), st.integers(1, 40)),
    "trespass": st.tuples(st.just("trespass"), owners),
}
# Weighted: time passing and updates most, reads in between, the rest now and then.
step = st.sampled_from(["advance"] * 6 + ["update"] * 5 + ["download", "finish"] + ["read"] * 3 + ["trespass"]).flatmap(
    lambda kind: kinds[kind]
)
steps = st.lists(step, min_size=3, max_size=30)


def play(world: World, step: tuple[Any, ...]) -> None:
    kind, *args = step
    if kind == "advance":
        if args[0] > 80 * 86400 and any(c.open_update for c in world.connections.values()):
            return  # an update does not stay open for months
        advance(world, args[0])
    elif kind == "update":  # download and the look that ends it, with nothing in between
        download(world, args[0], args[1])
        finish(world, args[0], finapi_down=args[2], repeat=False)
    elif kind == "download":
        download(world, args[0], args[1])
    elif kind == "finish":
        down, repeat = args[1], args[2]
        finish(world, args[0], finapi_down=down, repeat=repeat)
    elif kind == "read":
        read(world, *args)
    else:
        trespass(world, args[0])


@settings(
    max_examples=HISTORIES,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(
    seed=st.integers(0, 2**32),
    accounts=st.tuples(st.integers(1, 3), st.integers(1, 3)),
    history=steps,
)
def test_every_imported_transaction_reaches_each_reader_exactly_once(
    seed: int, accounts: tuple[int, int], history: list[tuple[Any, ...]]
) -> None:
    world = build(seed, accounts)
    for owner in USERS:  # every user has a reader from the start
        read(world, owner, 0, 1)
    for step in history:
        play(world, step)
    # The end of the story: every open update finishes, one more full update each, every reader reads to the end
    for owner in USERS:
        finish(world, owner, finapi_down=False, repeat=False)
        download(world, owner, frozenset())
        finish(world, owner, finapi_down=False, repeat=False)
    for owner, connection in world.connections.items():
        assert not connection.unseen and not connection.unnoticed
        counted_ids = {i for i, (o, _) in world.origin.items() if o == owner}
        for reader in connection.readers:
            drain(world, reader, owner)
            # Nobody sees another user's transactions
            assert all(world.owner_of[i] == owner for i in reader.added + reader.removed)
            # Each transaction counted after the reader started arrives once: added, or removed if finAPI lost it
            # before the reader got there; a removal noticed after it started comes once
            assert len(reader.added) == len(set(reader.added))
            assert len(reader.removed) == len(set(reader.removed))
            due = {i for i in counted_ids if world.counted_at[i] > reader.started_after}
            assert set(reader.added) <= due
            gone = {i for i, n in world.noticed_at.items() if n > reader.started_after and world.owner_of[i] == owner}
            assert set(reader.removed) == gone
            assert due == set(reader.added) | (due & gone)
            # And the counts the updates reported are what the cursor delivered for them
            arrived = set(reader.added) | (due & gone)
            for (update_id, account), count in world.reported.items():
                if account not in connection.accounts or world.look_number[update_id] <= reader.started_after:
                    continue
                got = [i for i in arrived if world.origin[i][1] == update_id and world.account_of[i] == account]
                assert len(got) == count, (update_id, account)
