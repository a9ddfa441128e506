"""The accounts and the sync cursor end to end: HTTP API (JWT) → BankDataFunction with its own role → DynamoDB
(moto) and finAPI (the sandbox over loopback); the changes written by the look that ends each update, on the real
workflow. The property tests prove the method over many histories; this proves the deployed pieces fit together."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from finapi_sandbox.ledger import FeedConfig
from tests.conftest import BankUser

NO_SCA = [{"label": "Onlinebanking-ID", "value": "demo_no_msa"}, {"label": "PIN", "value": "demo_no_msa"}]
DAY = 86400.0


def synced(user: BankUser, connection: int) -> dict[str, Any]:
    started = user.api.trigger(connection, {"interface": "XS2A", "loginCredentials": NO_SCA})
    assert started.status_code == 202, started.text
    done = user.api.wait_for(started.json()["updateId"], {"SUCCEEDED"})
    user.api.wait_until_unlocked(connection)
    return done


@pytest.fixture
def finapi_clock(sandbox: Any) -> Iterator[Callable[[float], None]]:
    """Moves finAPI's clock on (so that its bank books something new; our clock stays, and the method must not care
    whose clock is right, decision D29); back where it was after the test."""
    world = sandbox.world
    original = world.clock_offset
    try:
        yield lambda seconds: world.set_clock_offset(world.clock_offset + seconds)
    finally:
        world.set_clock_offset(original)


@pytest.fixture
def steady_bank(sandbox: Any) -> Iterator[None]:
    """The sandbox's bank books something every day and drops nothing while the test's accounts are made and read
    (the shared bank's defaults leave a day quiet three times in ten: a day later, an update could bring nothing)."""
    ledger = sandbox.world.ledger
    original = ledger.feed
    ledger.feed = FeedConfig(quiet_day_share=0, dropped_share=0)
    try:
        yield
    finally:
        ledger.feed = original


@pytest.mark.usefixtures("steady_bank")
def test_an_update_says_what_it_brought_and_the_cursor_hands_it_out_once(
    new_user: Any, stack: Any, finapi_clock: Callable[[float], None]
) -> None:
    # Given a connection the service knows (at a bank that books something every day), and an app holding a cursor
    # from now on
    user: BankUser = new_user(imported_account_count=2)
    connection = user.connections["DEMO0001"]
    synced(user, connection)
    start = user.api.changes(connection)
    assert start.status_code == 200, start.text
    assert start.json()["added"] == [] and start.json()["hasMore"] is False
    finapi_clock(DAY)
    # When the next update runs, a day later
    done = synced(user, connection)
    # Then its record says per account what it imported, with balances and currency
    accounts = done["result"]["accounts"]
    counts = {a["accountId"]: a["importedTransactions"] for a in accounts}
    assert all(isinstance(c, int) for c in counts.values()) and sum(counts.values()) > 0
    for account in accounts:
        assert account["currency"] == "EUR" and account["balanceAfter"] == account["balance"]
        assert account["balanceBefore"] is not None and account["removedTransactions"] is not None
    # And the Succeeded event says the same
    events = [e for e in stack.published_events() if e["detail"].get("updateId") == done["updateId"]]
    succeeded = next(e for e in events if e["detail-type"] == "BankConnectionUpdate Succeeded")
    assert {a["accountId"]: a["importedTransactions"] for a in succeeded["detail"]["accounts"]} == counts
    # And the cursor hands out exactly those transactions, in pages, each once
    added, cursor = [], start.json()["nextCursor"]
    while True:
        page = user.api.changes(connection, cursor=cursor, limit=5)
        assert page.status_code == 200, page.text
        added += page.json()["added"]
        cursor = page.json()["nextCursor"]
        if not page.json()["hasMore"]:
            break
    assert len(added) == len({t["transactionId"] for t in added}) == sum(counts.values())
    assert {t["updateId"] for t in added} == {done["updateId"]}
    for account_id, count in counts.items():
        assert sum(1 for t in added if t["accountId"] == account_id) == count
    assert all(t["currency"] == "EUR" and t["bankBookingDate"] and "amount" in t for t in added)
    again = user.api.changes(connection, cursor=cursor)
    assert again.json()["added"] == [] and again.json()["nextCursor"] == cursor
    # And the same list starts from the update itself
    from_update = user.api.changes(connection, fromUpdate=done["updateId"], limit=500)
    assert [t["transactionId"] for t in from_update.json()["added"]] == [t["transactionId"] for t in added]


def test_a_cursor_works_only_for_its_user_and_connection(new_user: Any) -> None:
    mine: BankUser = new_user()
    theirs: BankUser = new_user()
    my_connection, their_connection = mine.connections["DEMO0001"], theirs.connections["DEMO0001"]
    synced(mine, my_connection)
    synced(theirs, their_connection)
    their_cursor = theirs.api.changes(their_connection).json()["nextCursor"]
    my_cursor = mine.api.changes(my_connection).json()["nextCursor"]
    # Their cursor on my connection, and an altered one of mine: 400, and nothing of anyone's
    for cursor in (their_cursor, my_cursor[:-3] + ("AAA" if not my_cursor.endswith("AAA") else "BBB")):
        refused = mine.api.changes(my_connection, cursor=cursor)
        assert refused.status_code == 400 and refused.json()["error"]["code"] == "INVALID_CURSOR"
        assert "added" not in refused.text
    # Their connection: 404 as for a connection that does not exist; with their own cursor, 400 (not issued to me)
    assert mine.api.changes(their_connection).status_code == 404
    assert mine.api.changes(their_connection, cursor=their_cursor).status_code == 400
    assert mine.api.accounts(their_connection).status_code == 404
    # What the route refuses before anything runs: 422 naming the field
    for query, field in (({"cursor": "not a cursor!"}, "cursor"), ({"limit": 501}, "limit"), ({"since": "x"}, "since")):
        answer = mine.api.changes(my_connection, **query)
        assert answer.status_code == 422 and field in answer.json()["error"]["message"], answer.text
    both = mine.api.changes(my_connection, cursor=my_cursor, since="2026-11-20")
    assert both.status_code == 422 and both.json()["error"]["code"] == "INVALID_REQUEST"


def test_a_connections_accounts_with_bank_balance_and_currency(new_user: Any) -> None:
    user: BankUser = new_user(imported_account_count=3)
    connection = user.connections["DEMO0001"]
    synced(user, connection)
    answer = user.api.accounts(connection)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["bankName"] == "finAPI Test Bank" and body["connectionId"] == connection
    assert [a["name"] for a in body["accounts"]] == ["Girokonto", "Zweitkonto", "Tagesgeld"]
    assert all(a["currency"] == "EUR" and isinstance(a["balance"], float) for a in body["accounts"])
