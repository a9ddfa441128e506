"""The sync cursor's use case (usecases/bank_data.py) over the in-memory ports, finAPI played by the sandbox over
HTTP: pages of what updates brought, each transaction once; any cursor not given to this user for this connection
refused; and a connection's accounts read live."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

import pytest

from bankupdate.domain.errors import CursorExpired, InvalidCursor, InvalidRequest, NotFound
from bankupdate.usecases.bank_data import ChangesPage, ChangesRequest
from finapi_sandbox import SandboxConfig, SandboxServer
from finapi_sandbox.ledger import FeedConfig
from tests.usecases.polling import system_with
from tests.usecases.system import NO_SCA, BankUser, System
from tests.usecases.test_what_changed import DAY, imported_by_finapi, sync


def read(system: System, user: BankUser, **start: object) -> ChangesPage:
    request = ChangesRequest(user.owner_id, user.connection, **start)  # type: ignore[arg-type]
    return system.use_cases.read_transaction_changes()(request)


def read_all(system: System, user: BankUser, cursor: str, limit: int = 100) -> tuple[list[ChangesPage], str]:
    pages = []
    while True:
        page = read(system, user, cursor=cursor, limit=limit)
        pages.append(page)
        cursor = page.next_cursor
        if not page.has_more:
            return pages, cursor


def _system_with_feed(config: SandboxConfig) -> Iterator[System]:
    with SandboxServer(config) as server:
        yield system_with(server)


@pytest.fixture
def steady() -> Iterator[System]:
    """A bank with bookings every day, none of them dropped again: what each update imports stays, so the counts an
    update reports are what a reader gets, whatever days the test's clock lands on (the shared sandbox's account keys
    and dates depend on the tests before)."""
    feed = FeedConfig(quiet_day_share=0, dropped_share=0)
    yield from _system_with_feed(SandboxConfig.default().model_copy(update={"transaction_feed": feed}))


def test_a_reader_from_now_gets_each_updates_transactions_once(steady: System) -> None:
    system = steady
    # Given a connection the service knows, and a reader starting from now
    user = system.new_user(download_seconds=4)
    sync(system, user)
    start = read(system, user)
    assert start.added == () and start.removed == () and not start.has_more
    # When two updates run a day apart
    system.clock.advance(DAY)
    since = system.clock.now()  # (the sandbox's clock runs on with the wall's: only a day away is it safely before)
    first = sync(system, user)
    system.clock.advance(DAY)
    second = sync(system, user)
    # Then reading on from the cursor, in pages of 3, brings every transaction they imported once, with its update
    pages, end = read_all(system, user, start.next_cursor, limit=3)
    got = [(a.transaction.transaction_id, a.update_id) for p in pages for a in p.added]
    truth = imported_by_finapi(system, user, since)
    assert len(got) == len({i for i, _ in got}) and {i for i, _ in got} == set().union(*truth.values())
    assert {u for _, u in got} <= {first.update_id, second.update_id}
    assert all(len(p.added) + len(p.removed) <= 3 for p in pages)
    # And the counts in the updates are what the reader got
    counted = sum(
        a.imported_transactions or 0 for r in (first, second) for a in (r.result.accounts if r.result else ())
    )
    assert counted == len(got)
    # And finAPI's data comes with them
    row = next(r for r in system.sandbox.world.ledger.rows(list(truth)) if r.id == got[0][0])
    shown = pages[0].added[0].transaction
    assert (shown.amount, shown.purpose, shown.bank_booking_date) == (row.amount, row.purpose, row.booked_on)
    # And with nothing new, the same cursor brings nothing
    assert read(system, user, cursor=end).added == ()


def test_from_an_update_and_from_a_day(system: System) -> None:
    user = system.new_user(download_seconds=4)
    sync(system, user)
    system.clock.advance(DAY)
    done = sync(system, user)
    assert done.result is not None
    brought = sum(a.imported_transactions or 0 for a in done.result.accounts)
    pages, _ = read_all(system, user, read(system, user, from_update=done.update_id).next_cursor)
    first_page = read(system, user, from_update=done.update_id, limit=500)
    assert len(first_page.added) == brought and {a.update_id for a in first_page.added} <= {done.update_id}
    today = read(system, user, since=system.clock.now().date(), limit=500)
    assert {a.transaction.transaction_id for a in today.added} >= {
        a.transaction.transaction_id for a in first_page.added
    }
    assert pages[-1].has_more is False


def test_a_cursor_is_good_only_for_its_user_and_connection(system: System) -> None:
    mine, theirs = system.new_user(download_seconds=4), system.new_user(download_seconds=4)
    sync(system, mine)
    their_update = sync(system, theirs)
    their_cursor = read(system, theirs).next_cursor
    # Their connection is not mine to read: 404 as for a connection that does not exist; with their cursor, 400
    with pytest.raises(NotFound):
        system.use_cases.read_transaction_changes()(ChangesRequest(mine.owner_id, theirs.connection))
    with pytest.raises(InvalidCursor):
        changes = system.use_cases.read_transaction_changes()
        changes(ChangesRequest(mine.owner_id, theirs.connection, cursor=their_cursor))
    # And their cursor on my connection is refused (400)
    with pytest.raises(InvalidCursor):
        read(system, mine, cursor=their_cursor)
    # An altered cursor: refused; their update as a start: not found
    my_cursor = read(system, mine).next_cursor
    with pytest.raises(InvalidCursor):
        read(system, mine, cursor=my_cursor[:-2] + ("AA" if my_cursor[-2:] != "AA" else "BA"))
    with pytest.raises(NotFound):
        read(system, mine, from_update=their_update.update_id)


def test_one_start_at_a_time_and_a_day_within_the_kept_changes(system: System) -> None:
    user = system.new_user(download_seconds=4)
    sync(system, user)
    cursor = read(system, user).next_cursor
    with pytest.raises(InvalidRequest):
        read(system, user, cursor=cursor, since=system.clock.now().date())
    with pytest.raises(InvalidRequest):
        read(system, user, since=datetime(2001, 1, 1).date())
    with pytest.raises(InvalidRequest):
        read(system, user, limit=501)


def test_a_cursor_older_than_the_kept_changes_is_expired(steady: System) -> None:
    system = steady  # (every sync imports something, so each adds to the change log)
    user = system.new_user(download_seconds=4)
    sync(system, user)
    cursor = read(system, user).next_cursor
    at_cursor = system.change_log.state(user.owner_id, user.connection)
    for _ in range(2):
        system.clock.advance(DAY)
        sync(system, user)
    state = system.change_log.state(user.owner_id, user.connection)
    assert at_cursor is not None and state is not None and state.head >= at_cursor.head + 2
    system.change_log.forget_entries_until(user.owner_id, user.connection, at_cursor.head + 1)  # the table's TTL
    with pytest.raises(CursorExpired):
        read(system, user, cursor=cursor)
    system.change_log.forget_entries_until(user.owner_id, user.connection, state.head)
    with pytest.raises(CursorExpired):
        read(system, user, cursor=cursor)


def test_a_connections_accounts_name_the_bank_and_balances(system: System) -> None:
    user = system.new_user(download_seconds=4, imported_account_count=3)
    sync(system, user)
    found = system.use_cases.read_connection_accounts()(owner_id=user.owner_id, connection_id=user.connection)
    assert found.bank_name == "finAPI Test Bank" and len(found.accounts) == 3
    assert all(a.currency == "EUR" and a.balance is not None for a in found.accounts)
    other = system.new_user()
    with pytest.raises(NotFound):
        system.use_cases.read_connection_accounts()(owner_id=other.owner_id, connection_id=user.connection)


# ------------------------------------------------------------------------------------------ a bank that drops bookings


@pytest.fixture
def dropping(finapi: SandboxServer) -> Iterator[System]:
    """A bank whose every booking is future-booked and dropped again before it is booked."""
    feed = FeedConfig(quiet_day_share=0, busy_day_share=0.5, future_booked_share=1, dropped_share=1)
    yield from _system_with_feed(
        SandboxConfig.default().model_copy(update={"download_seconds": 4.0, "transaction_feed": feed})
    )


def test_a_transaction_the_bank_drops_comes_back_as_removed_once(dropping: System) -> None:
    system = dropping
    user = system.new_user(download_seconds=4)
    sync(system, user)
    start = read(system, user).next_cursor
    system.clock.advance(0.7 * DAY)
    first = sync(system, user)
    assert first.result is not None and sum(a.imported_transactions or 0 for a in first.result.accounts) > 0
    added_pages, cursor = read_all(system, user, start)
    added = {a.transaction.transaction_id for p in added_pages for a in p.added}
    assert added and all(a.transaction.future_booked for p in added_pages for a in p.added)
    # When the bank drops them and the next update notices
    system.clock.advance(5 * DAY)
    later = sync(system, user)
    assert later.result is not None
    removed_count = sum(a.removed_transactions or 0 for a in later.result.accounts)
    pages, _ = read_all(system, user, cursor)
    removed = [r.transaction_id for p in pages for r in p.removed]
    # Then each comes once in removed, counted in the update
    assert added <= set(removed) and len(removed) == len(set(removed)) == removed_count
    # And a reader who starts after they were added never sees them added
    late = read_all(system, user, start)[0]
    assert not {a.transaction.transaction_id for p in late for a in p.added} & set(removed)
    assert NO_SCA
