"""ScheduleStore: the due index, the skips, the bank's daily budget and the consent warning, alike in memory and on
DynamoDB."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bankupdate.domain.budget import UnattendedBudget
from bankupdate.domain.model import SkipReason
from bankupdate.domain.scheduling import scheduled_update_id
from tests.contract.conftest import Stores
from tests.contract.lost_answers import LostAnswers
from tests.contract.records import NOW, OWNER, facts

BUDGET = UnattendedBudget(daily_limit=4, reserve=0, time_zone="Europe/Berlin")


def test_twenty_parallel_starts_never_exceed_the_daily_budget(stores: Stores) -> None:
    # Given a connection with a fresh bank day
    stores.connections.record_facts(OWNER, facts(1), NOW)

    # When 20 starts try to take a unit at the same time
    def take(_: int) -> bool:
        return stores.schedules.consume_unattended(OWNER, 1, budget=BUDGET, now=NOW)

    with ThreadPoolExecutor(max_workers=20) as pool:
        granted = list(pool.map(take, range(20)))
    # Then exactly the daily limit was granted, and counted on the bank's day
    assert granted.count(True) == 4
    record = stores.connections.get(OWNER, 1)
    assert record is not None and record.unattended == {"2026-11-24": 4}


def test_a_new_bank_day_starts_a_new_budget_and_forgets_yesterday(stores: Stores) -> None:
    # Given a day's budget used up
    stores.connections.record_facts(OWNER, facts(1), NOW)
    for _ in range(4):
        assert stores.schedules.consume_unattended(OWNER, 1, budget=BUDGET, now=NOW)
    assert not stores.schedules.consume_unattended(OWNER, 1, budget=BUDGET, now=NOW)
    # When the bank's next day begins
    tomorrow = BUDGET.next_day_start(NOW)
    # Then a unit is granted, and only the new day is counted
    assert stores.schedules.consume_unattended(OWNER, 1, budget=BUDGET, now=tomorrow)
    record = stores.connections.get(OWNER, 1)
    assert record is not None and record.unattended == {"2026-11-25": 1}


def test_the_bank_day_ends_at_midnight_in_the_banks_time_zone(stores: Stores) -> None:
    # Given the budget used up late on the 24th in Berlin (22:59 UTC is 23:59 there)
    stores.connections.record_facts(OWNER, facts(1), NOW)
    late = datetime(2026, 11, 24, 22, 59, tzinfo=UTC)
    for _ in range(4):
        stores.schedules.consume_unattended(OWNER, 1, budget=BUDGET, now=late)
    # Then two minutes later (past midnight in Berlin, still the 24th in UTC) the new day's budget is there
    assert stores.schedules.consume_unattended(OWNER, 1, budget=BUDGET, now=late + timedelta(minutes=2))


def test_a_budget_the_reserve_uses_up_grants_nothing(stores: Stores) -> None:
    # Given a deployment that keeps all four daily accesses for the user (reserve = limit)
    stores.connections.record_facts(OWNER, facts(1), NOW)
    reserved = UnattendedBudget(daily_limit=4, reserve=4, time_zone="Europe/Berlin")
    # When an unattended start asks for a unit
    granted = stores.schedules.consume_unattended(OWNER, 1, budget=reserved, now=NOW)
    # Then none is granted
    assert granted is False
    record = stores.connections.get(OWNER, 1)
    assert record is not None and record.unattended.get("2026-11-24", 0) == 0


@pytest.mark.parametrize("taken_before", [0, 3], ids=["a unit among others", "the day's last unit"])
def test_a_unit_whose_answer_was_lost_and_retried_is_counted_once_and_granted(
    state_table: str, taken_before: int
) -> None:
    # Given a known connection on DynamoDB with some of today's budget used, and the first answer to the next take
    # lost on its way back (botocore retries the write, which had landed)
    from bankupdate.stores.aws import client
    from bankupdate.stores.connections import DynamoConnectionStore, DynamoScheduleStore

    DynamoConnectionStore(state_table, 4).record_facts(OWNER, facts(1), NOW)
    schedules = DynamoScheduleStore(state_table, 4)
    for _ in range(taken_before):
        assert schedules.consume_unattended(OWNER, 1, budget=BUDGET, now=NOW)
    # When a start takes a unit
    with LostAnswers(client("dynamodb"), "UpdateItem") as lost:
        granted = schedules.consume_unattended(OWNER, 1, budget=BUDGET, now=NOW)
    # Then the retry happened, the start got its unit (even the day's last one), and the bank's day counts it once
    assert lost.retried == 1
    assert granted is True
    record = DynamoConnectionStore(state_table, 4).get(OWNER, 1)
    assert record is not None and record.unattended == {"2026-11-24": taken_before + 1}
    # And the budget still ends at the bank's limit
    for _ in range(BUDGET.usable_per_day - taken_before - 1):
        assert schedules.consume_unattended(OWNER, 1, budget=BUDGET, now=NOW)
    assert not schedules.consume_unattended(OWNER, 1, budget=BUDGET, now=NOW)


def test_an_unknown_connection_gets_no_budget(stores: Stores) -> None:
    assert stores.schedules.consume_unattended(OWNER, 99, budget=BUDGET, now=NOW) is False
    assert stores.connections.get(OWNER, 99) is None


def test_opting_in_puts_the_connection_in_the_due_index_and_opting_out_takes_it_out(stores: Stores) -> None:
    # Given two known connections
    for connection_id in (1, 2):
        stores.connections.record_facts(OWNER, facts(connection_id), NOW)
    # When both opt in, due now and in an hour
    stores.schedules.set_schedule(OWNER, 1, enabled=True, next_due_at=NOW)
    stores.schedules.set_schedule(OWNER, 2, enabled=True, next_due_at=NOW + timedelta(hours=1))
    # Then only the first is due now, both in an hour
    assert list(stores.schedules.due(now=NOW)) == [(OWNER, 1, NOW)]
    assert sorted(c for _, c, _ in stores.schedules.due(now=NOW + timedelta(hours=1))) == [1, 2]
    # When the first opts out
    stores.schedules.set_schedule(OWNER, 1, enabled=False, next_due_at=None)
    # Then it is no longer due, and its record says so
    assert [c for _, c, _ in stores.schedules.due(now=NOW + timedelta(hours=1))] == [2]
    record = stores.connections.get(OWNER, 1)
    assert record is not None and (record.schedule.enabled, record.schedule.next_due_at) == (False, None)


def test_a_due_slot_comes_back_in_utc_whatever_offset_it_was_written_with(stores: Stores) -> None:
    # Given a slot written in the bank's time zone (the budget's next day is one)
    stores.connections.record_facts(OWNER, facts(1), NOW)
    berlin_midnight = datetime(2026, 11, 25, tzinfo=ZoneInfo("Europe/Berlin"))
    stores.schedules.set_schedule(OWNER, 1, enabled=True, next_due_at=berlin_midnight)
    # When the scheduler reads it
    ((_, _, slot),) = stores.schedules.due(now=berlin_midnight)
    # Then it is the same instant in UTC, so the scheduled update's id is the same on every store
    assert slot == berlin_midnight and slot.utcoffset() == timedelta(0)
    expected = scheduled_update_id(OWNER, 1, berlin_midnight.astimezone(UTC))
    assert scheduled_update_id(OWNER, 1, slot) == expected


def test_rescheduling_moves_the_slot_and_remembers_the_skip(stores: Stores) -> None:
    # Given a connection due now
    stores.connections.record_facts(OWNER, facts(1), NOW)
    stores.schedules.set_schedule(OWNER, 1, enabled=True, next_due_at=NOW)
    # When the scheduler skips it until tomorrow, for the budget
    tomorrow = NOW + timedelta(days=1)
    stores.schedules.reschedule(OWNER, 1, next_due_at=tomorrow, skip=SkipReason.BUDGET_EXHAUSTED, now=NOW)
    # Then it is due tomorrow, with the reason and time of the skip
    record = stores.connections.get(OWNER, 1)
    assert record is not None
    assert record.schedule.next_due_at == tomorrow
    assert (record.schedule.last_skip_reason, record.schedule.last_skip_at) == (SkipReason.BUDGET_EXHAUSTED, NOW)
    assert list(stores.schedules.due(now=NOW)) == []
    # When the next run starts it (no skip) and moves it on
    stores.schedules.reschedule(OWNER, 1, next_due_at=tomorrow + timedelta(hours=6), skip=None, now=tomorrow)
    # Then the last run was not skipped: neither a reason nor a time of a skip is left
    record = stores.connections.get(OWNER, 1)
    assert record is not None
    assert (record.schedule.last_skip_reason, record.schedule.last_skip_at) == (None, None)


def test_a_skip_only_the_user_can_end_takes_the_connection_out_of_the_index(stores: Stores) -> None:
    stores.connections.record_facts(OWNER, facts(1), NOW)
    stores.schedules.set_schedule(OWNER, 1, enabled=True, next_due_at=NOW)
    stores.schedules.reschedule(OWNER, 1, next_due_at=None, skip=SkipReason.USER_ACTION_REQUIRED, now=NOW)
    assert list(stores.schedules.due(now=NOW + timedelta(days=30))) == []
    record = stores.connections.get(OWNER, 1)
    assert record is not None and record.schedule.enabled is True and record.schedule.next_due_at is None


def test_rescheduling_a_connection_that_opted_out_leaves_it_out(stores: Stores) -> None:
    # Given a connection that opted out while its scheduled start ran
    stores.connections.record_facts(OWNER, facts(1), NOW)
    stores.schedules.set_schedule(OWNER, 1, enabled=False, next_due_at=None)
    # When that start reschedules it
    stores.schedules.reschedule(OWNER, 1, next_due_at=NOW + timedelta(hours=6), skip=None, now=NOW)
    # Then it does not re-enter the due index
    assert list(stores.schedules.due(now=NOW + timedelta(days=1))) == []
    record = stores.connections.get(OWNER, 1)
    assert record is not None and record.schedule.next_due_at is None


def test_rescheduling_an_unknown_connection_creates_nothing(stores: Stores) -> None:
    stores.schedules.reschedule(OWNER, 99, next_due_at=NOW, skip=None, now=NOW)
    assert stores.connections.get(OWNER, 99) is None


def test_users_are_warned_once_per_consent_expiry_date(stores: Stores) -> None:
    # Given a connection whose consent expires in five days
    stores.connections.record_facts(OWNER, facts(1), NOW)
    expires = NOW + timedelta(days=5)
    # When two scheduled runs each try to warn about it
    first = stores.schedules.mark_consent_warned(OWNER, 1, expires)
    second = stores.schedules.mark_consent_warned(OWNER, 1, expires)
    # Then only the first may warn; a renewed consent (new date) is warned about again
    assert (first, second) == (True, False)
    assert stores.schedules.mark_consent_warned(OWNER, 1, expires + timedelta(days=90)) is True
    record = stores.connections.get(OWNER, 1)
    assert record is not None and record.schedule.consent_warning_for == expires + timedelta(days=90)


def test_no_warning_is_marked_for_an_unknown_connection(stores: Stores) -> None:
    assert stores.schedules.mark_consent_warned(OWNER, 99, NOW) is False
    assert stores.connections.get(OWNER, 99) is None


def test_an_owner_lists_only_their_own_connections(stores: Stores) -> None:
    for owner, connection_id in ((OWNER, 1), (OWNER, 2), ("user-2", 3)):
        stores.connections.record_facts(owner, facts(connection_id), NOW)
    assert sorted(c.connection_id for c in stores.schedules.list_for_owner(OWNER)) == [1, 2]
    assert [c.connection_id for c in stores.schedules.list_for_owner("user-2")] == [3]
    assert stores.schedules.list_for_owner("nobody") == []


@pytest.mark.parametrize("stores", ["dynamodb"], indirect=True)
def test_the_due_index_pages_through_every_shard(stores: Stores) -> None:
    # Given 30 scheduled connections, due at different times (DynamoDB only: the pages are the adapter's own)
    from bankupdate.stores.connections import DynamoScheduleStore

    assert isinstance(stores.schedules, DynamoScheduleStore)
    for n in range(1, 31):
        stores.connections.record_facts(OWNER, facts(n), NOW)
        stores.schedules.set_schedule(OWNER, n, enabled=True, next_due_at=NOW + timedelta(minutes=n - 20))
    stores.schedules.set_schedule(OWNER, 5, enabled=False, next_due_at=None)
    # When the scheduler asks for the due ones, in small pages
    due = list(stores.schedules.due(now=NOW, page_size=3))
    # Then it gets exactly those due by now (1..20 but the opted-out 5), each once, with their slot
    assert sorted(c for _, c, _ in due) == [n for n in range(1, 21) if n != 5]
    assert all(slot <= NOW for _, _, slot in due)


def test_the_due_index_gives_the_longest_overdue_first_across_its_shards(stores: Stores) -> None:
    # Given twelve connections (spread over the index's shards), the n-th due n minutes ago
    for connection_id in range(1, 13):
        stores.connections.record_facts(OWNER, facts(connection_id), NOW)
        due = NOW - timedelta(minutes=connection_id)
        stores.schedules.set_schedule(OWNER, connection_id, enabled=True, next_due_at=due)
    # When the due connections are read
    order = [connection_id for _, connection_id, _ in stores.schedules.due(now=NOW)]
    # Then they come oldest first whatever their shard: a run that queues only part of them takes the oldest
    assert order == list(range(12, 0, -1))
