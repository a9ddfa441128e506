"""The sync cursor (domain/sync_cursor.py): opaque, tamper-evident, bound to its user and connection; and paging."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bankupdate.domain.errors import InvalidCursor
from bankupdate.domain.sync_cursor import CursorKey, Item, Position, decode, encode, plan_page
from bankupdate.domain.transactions import ChangeEntry

KEY = CursorKey(b"k" * 32)
OLD_KEY = CursorKey(b"o" * 32)
AT = datetime(2026, 11, 20, tzinfo=UTC)


def test_a_cursor_reads_back_for_its_user_and_connection() -> None:
    token = encode(Position(41, 7), connection_id=3, owner_id="user-a", key=KEY)
    assert decode(token, connection_id=3, owner_id="user-a", keys=[KEY]) == Position(41, 7)
    assert len(token) < 64 and token.isascii() and "=" not in token


def test_a_cursor_signed_with_the_previous_key_still_reads_back() -> None:
    token = encode(Position(1), connection_id=3, owner_id="user-a", key=OLD_KEY)
    assert decode(token, connection_id=3, owner_id="user-a", keys=[KEY, OLD_KEY]) == Position(1)
    with pytest.raises(InvalidCursor):
        decode(token, connection_id=3, owner_id="user-a", keys=[KEY])


@pytest.mark.parametrize(
    ("owner", "connection"),
    [("user-b", 3), ("user-a", 4)],
    ids=["another user's", "another connection's"],
)
def test_a_cursor_given_to_someone_else_is_refused(owner: str, connection: int) -> None:
    token = encode(Position(41), connection_id=3, owner_id="user-a", key=KEY)
    with pytest.raises(InvalidCursor):
        decode(token, connection_id=connection, owner_id=owner, keys=[KEY])


def test_every_altered_character_is_refused() -> None:
    token = encode(Position(41, 2), connection_id=3, owner_id="user-a", key=KEY)
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    for n, char in enumerate(token):
        other = alphabet[(alphabet.index(char) + 1) % len(alphabet)]
        altered = token[:n] + other + token[n + 1 :]
        with pytest.raises(InvalidCursor):
            decode(altered, connection_id=3, owner_id="user-a", keys=[KEY])


@pytest.mark.parametrize("token", ["", "x", "not a cursor", "é" * 56, "A" * 56, "=" * 8, "AAAA" * 40])
def test_garbage_is_refused(token: str) -> None:
    with pytest.raises(InvalidCursor):
        decode(token, connection_id=3, owner_id="user-a", keys=[KEY])


def entry(seq: int, added: int, removed: int = 0) -> ChangeEntry:
    return ChangeEntry(
        seq=seq,
        update_id=f"u{seq}",
        recorded_at=AT,
        added=tuple((1, seq * 100 + n) for n in range(added)),
        removed=tuple((1, seq * 1000 + n) for n in range(removed)),
    )


def test_pages_walk_the_entries_item_by_item() -> None:
    log = [entry(1, 2), entry(2, 3, removed=1), entry(3, 1)]
    seen: list[Item] = []
    position = Position(0)
    for _ in range(10):
        after = [e for e in log if e.seq > position.seq]
        plan = plan_page(after, position, 3, more_entries=False)
        seen += plan.items
        position = plan.next
        if not plan.has_more:
            break
    flat = [(i.added, i.transaction_id) for i in seen]
    assert flat == [(True, 100), (True, 101), (True, 200), (True, 201), (True, 202), (False, 2000), (True, 300)]
    assert position == Position(3)


def test_a_page_ending_in_an_entry_continues_inside_it() -> None:
    plan = plan_page([entry(5, 4)], Position(4), 3, more_entries=False)
    assert [i.transaction_id for i in plan.items] == [500, 501, 502]
    assert plan.next == Position(4, 3) and plan.has_more
    rest = plan_page([entry(5, 4)], plan.next, 3, more_entries=False)
    assert [i.transaction_id for i in rest.items] == [503] and rest.next == Position(5) and not rest.has_more


def test_nothing_new_keeps_the_position() -> None:
    plan = plan_page([], Position(9), 100, more_entries=False)
    assert plan.items == () and plan.next == Position(9) and not plan.has_more


def test_a_full_page_at_an_entrys_end_says_whether_more_follow() -> None:
    assert plan_page([entry(1, 2)], Position(0), 2, more_entries=True).has_more
    assert not plan_page([entry(1, 2)], Position(0), 2, more_entries=False).has_more
