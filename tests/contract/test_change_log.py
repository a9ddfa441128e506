"""ChangeLog: a look's entries and state are written together or not at all, conditional on the state's version;
entries read back in order, per user and connection (in memory, and on DynamoDB with the template's table)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from bankupdate.domain.transactions import ChangeEntry, ScanState, Watched
from bankupdate.ports import ChangeLog, StaleChanges
from tests.contract.conftest import scan
from tests.fakes import InMemoryChangeLog

AT = datetime(2026, 11, 20, 9, 30, tzinfo=UTC)


@pytest.fixture(params=["in-memory", "dynamodb"])
def log(request: pytest.FixtureRequest) -> ChangeLog:
    if request.param == "in-memory":
        return InMemoryChangeLog()
    from bankupdate.stores.changes import DynamoChangeLog

    return DynamoChangeLog(request.getfixturevalue("state_table"), timedelta(days=30))


def entry(seq: int, update_id: str = "u1", n: int = 2) -> ChangeEntry:
    return ChangeEntry(
        seq=seq,
        update_id=update_id,
        recorded_at=AT,
        added=tuple((7, seq * 10 + i) for i in range(n)),
        removed=((8, seq * 1000),),
    )


STATE = ScanState(
    head=2,
    last_update_id="u1",
    last_entries=(1, 2),
    since=date(2026, 11, 20),
    seen={date(2026, 11, 20): {7: (10, 11, 20)}},
    watched={20: Watched(account_id=7, until=date(2026, 12, 4))},
    day_starts={date(2026, 11, 20): 0},
)


def test_a_look_writes_its_entries_and_state_together(log: ChangeLog) -> None:
    # Given no state yet
    assert log.state("user-1", 5) is None
    # When a look records two entries
    saved = log.record("user-1", 5, STATE, [entry(1), entry(2)], expected=0, at=AT)
    # Then the state reads back as written, version 1, and the entries in order
    assert saved.version == 1 and log.state("user-1", 5) == saved
    assert log.entries_after("user-1", 5, 0, limit=10) == [entry(1), entry(2)]
    assert log.entries_after("user-1", 5, 1, limit=10) == [entry(2)]
    assert log.entries_after("user-1", 5, 0, limit=1) == [entry(1)]
    assert log.entries_after("user-1", 5, 2, limit=10) == []
    assert log.entry("user-1", 5, 2) == entry(2) and log.entry("user-1", 5, 3) is None
    assert log.entry("user-2", 5, 2) is None


def test_a_second_look_from_the_same_version_is_refused_and_writes_nothing(log: ChangeLog) -> None:
    log.record("user-1", 5, STATE, [entry(1)], expected=0, at=AT)
    with pytest.raises(StaleChanges):
        log.record("user-1", 5, STATE.model_copy(update={"last_update_id": "u2"}), [entry(2, "u2")], expected=0, at=AT)
    assert log.entries_after("user-1", 5, 0, limit=10) == [entry(1)]
    state = log.state("user-1", 5)
    assert state is not None and state.last_update_id == "u1"
    # And a look from the current version goes through
    log.record("user-1", 5, STATE.model_copy(update={"head": 2}), [entry(2, "u2")], expected=1, at=AT)
    assert [e.seq for e in log.entries_after("user-1", 5, 0, limit=10)] == [1, 2]


def test_where_an_updates_changes_begin_is_kept_for_its_user_and_connection(log: ChangeLog) -> None:
    log.record("user-1", 5, STATE.model_copy(update={"last_update_id": "u1"}), [entry(1)], expected=0, at=AT)
    log.record("user-1", 5, STATE.model_copy(update={"last_update_id": "u2", "head": 1}), [], expected=1, at=AT)
    assert log.position_of("user-1", 5, "u1") == 0 and log.position_of("user-1", 5, "u2") == 1
    assert log.position_of("user-2", 5, "u1") is None and log.position_of("user-1", 6, "u1") is None
    assert log.position_of("user-1", 5, "u3") is None


def test_a_look_without_entries_only_moves_the_state(log: ChangeLog) -> None:
    log.record("user-1", 5, STATE, [], expected=0, at=AT)
    assert log.entries_after("user-1", 5, 0, limit=10) == []
    assert log.record("user-1", 5, STATE, [], expected=1, at=AT).version == 2


def test_each_user_and_connection_has_its_own_log(log: ChangeLog) -> None:
    log.record("user-1", 5, STATE, [entry(1)], expected=0, at=AT)
    log.record("user-1", 6, STATE, [entry(1, "other")], expected=0, at=AT)
    assert log.state("user-2", 5) is None
    assert log.entries_after("user-2", 5, 0, limit=10) == []
    assert [e.update_id for e in log.entries_after("user-1", 6, 0, limit=10)] == ["other"]


def test_many_entries_read_back_in_order(log: ChangeLog) -> None:
    for seq in range(1, 31):
        log.record("user-1", 5, STATE.model_copy(update={"head": seq}), [entry(seq, n=400)], expected=seq - 1, at=AT)
    found = log.entries_after("user-1", 5, 3, limit=20)
    assert [e.seq for e in found] == list(range(4, 24)) and found[0] == entry(4, n=400)


@pytest.mark.parametrize("log", ["dynamodb"], indirect=True)
def test_the_table_holds_ids_and_expires_entries(log: ChangeLog, state_table: str) -> None:
    log.record("user-1", 5, STATE, [entry(1)], expected=0, at=AT)
    items = scan(state_table)
    entries = [i for i in items if i["sk"]["S"].startswith("CHANGES#")]
    assert entries and int(entries[0]["expiresAt"]["N"]) == int((AT + timedelta(days=30)).timestamp())
