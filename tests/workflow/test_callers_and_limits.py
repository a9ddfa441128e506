"""What one caller may do: only their own connections (not even creating records for others), one update per
Idempotency-Key and options, and only so many bank accesses per connection in a while."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import BankUser, running_stack

LIMIT = 3


@pytest.fixture(scope="module")
def stack(sandbox: Any) -> Iterator[Any]:
    with running_stack(sandbox, env={"USER_UPDATES_PER_WINDOW": str(LIMIT)}) as local:
        yield local


def test_a_connection_of_someone_else_is_404_and_leaves_nothing_behind(new_user: Any, sandbox: Any, stack: Any) -> None:
    # Given two users, each with their own connection at finAPI
    me: BankUser = new_user()
    other: BankUser = new_user()
    theirs = other.connections["DEMO0001"]
    # When I trigger an update of their connection
    answer = me.api.trigger(theirs, {"interface": "XS2A"})
    # Then it is a 404, finAPI was never asked to update it, and I have no record of it
    assert answer.status_code == 404, answer.text
    assert not [c for c in sandbox.world.calls if c.path.endswith("/update") and c.connection_id == theirs]
    assert theirs not in [c["connectionId"] for c in me.api.list_connections().json()["connections"]]
    # And I can neither read it nor schedule unattended updates of it
    assert me.api.connection(theirs).status_code == 404
    assert me.api.connection_schedule(theirs, enabled=True).status_code == 404
    # While its owner updates it as usual
    assert other.api.trigger(theirs, {"interface": "XS2A"}).status_code == 202


def test_a_connection_nobody_has_is_404_without_a_record(new_user: Any) -> None:
    me: BankUser = new_user()
    answer = me.api.trigger(987654321, {"interface": "XS2A"})
    assert answer.status_code == 404 and answer.json()["error"]["code"] == "NOT_FOUND"
    assert me.api.connection_schedule(987654321, enabled=True).status_code == 404


def test_the_same_idempotency_key_with_other_options_is_refused_naming_the_conflict(new_user: Any) -> None:
    me: BankUser = new_user()
    connection = me.connections["DEMO0001"]
    key = {"Idempotency-Key": "sync-tap-1"}
    first = me.api.trigger(connection, {"interface": "XS2A"}, headers=key)
    # When the same key comes again with the same request, it is the same update
    again = me.api.trigger(connection, {"interface": "XS2A"}, headers=key)
    assert first.status_code == again.status_code == 202
    assert first.json()["updateId"] == again.json()["updateId"]
    # When it comes with other options, the new options are not silently dropped: the request is refused
    other = me.api.trigger(connection, {"interface": "XS2A", "importNewAccounts": True}, headers=key)
    assert other.status_code == 422, other.text
    assert other.json()["error"]["code"] == "IDEMPOTENCY_KEY_REUSED"


def test_back_to_back_updates_of_one_connection_are_limited_with_retry_after(new_user: Any, sandbox: Any) -> None:
    # Given a user who syncs one connection again and again (each update reaches the bank)
    me: BankUser = new_user()
    second = sandbox.world.add_connection(me.finapi_username)
    connection = me.connections["DEMO0001"]
    for _ in range(LIMIT):
        started = me.api.trigger(connection, {"interface": "XS2A"})
        assert started.status_code == 202, started.text
        me.api.wait_for(started.json()["updateId"], {"SUCCEEDED"})
        me.api.wait_until_unlocked(connection)
    # When they try once more within the window
    refused = me.api.trigger(connection, {"interface": "XS2A"})
    # Then it is a 429 that says when to come back; the bank was not asked
    assert refused.status_code == 429, refused.text
    assert refused.json()["error"]["code"] == "TOO_MANY_UPDATES"
    assert int(refused.headers["Retry-After"]) >= 1
    # And another connection of theirs is not affected
    assert me.api.trigger(second, {"interface": "XS2A"}).status_code == 202


def test_a_redirect_url_outside_the_allow_list_is_refused(new_user: Any) -> None:
    me: BankUser = new_user()
    answer = me.api.trigger(me.connections["DEMO0001"], {"interface": "XS2A", "redirectUrl": "https://evil.example/"})
    assert answer.status_code == 422 and answer.json()["error"]["details"]["field"] == "redirectUrl"


def test_an_ipv6_user_is_still_a_user_present_to_the_bank(new_user: Any, sandbox: Any) -> None:
    # Given a user on a mobile network (IPv6)
    me: BankUser = new_user()
    connection = me.connections["DEMO0001"]
    started = me.api.trigger(connection, {"interface": "XS2A"}, headers={"PSU-IP-Address": "2001:db8::1"})
    assert started.status_code == 202, started.text
    # Then finAPI gets the PSU data, so the bank does not count it against its 4 unattended accesses a day
    update_calls = [c for c in sandbox.world.calls if c.connection_id == connection and c.path.endswith("/update")]
    assert update_calls and update_calls[-1].psu_present
