"""The unattended budget under concurrent starts (moto DynamoDB)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

from bankupdate.domain.budget import UnattendedBudget
from bankupdate.stores.connections import ConnectionRepository, ScheduleRepository

NOW = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
BUDGET = UnattendedBudget(daily_limit=4, reserve=0, time_zone="Europe/Berlin")


def test_twenty_parallel_starts_never_exceed_the_daily_budget(table: str) -> None:
    # Given a connection with a fresh day
    ConnectionRepository(table).ensure("user-1", 1, NOW)
    schedules = ScheduleRepository(table, shards=4)
    # When 20 starts try to take a unit at the same time
    with ThreadPoolExecutor(max_workers=20) as pool:
        granted = list(pool.map(lambda _: schedules.consume_unattended("user-1", 1, budget=BUDGET, now=NOW), range(20)))
    # Then exactly the daily limit was granted
    assert granted.count(True) == 4
    record = ConnectionRepository(table).get("user-1", 1)
    assert record is not None and record.unattended == {"2026-11-24": 4}


def test_a_new_bank_day_starts_a_new_budget_and_forgets_yesterday(table: str) -> None:
    ConnectionRepository(table).ensure("user-1", 1, NOW)
    schedules = ScheduleRepository(table, shards=4)
    for _ in range(4):
        assert schedules.consume_unattended("user-1", 1, budget=BUDGET, now=NOW)
    assert not schedules.consume_unattended("user-1", 1, budget=BUDGET, now=NOW)
    tomorrow = NOW + timedelta(days=1)
    assert schedules.consume_unattended("user-1", 1, budget=BUDGET, now=tomorrow)
    record = ConnectionRepository(table).get("user-1", 1)
    assert record is not None and record.unattended == {"2026-11-25": 1}


def test_due_index_pages_through_every_shard(table: str) -> None:
    # Given 30 scheduled connections, due at different times
    connections = ConnectionRepository(table)
    schedules = ScheduleRepository(table, shards=4)
    for n in range(1, 31):
        connections.ensure("user-1", n, NOW)
        schedules.set_schedule("user-1", n, enabled=True, next_due_at=NOW + timedelta(minutes=n - 20))
    schedules.set_schedule("user-1", 5, enabled=False, next_due_at=None)
    # When the scheduler asks for the due ones, in small pages
    due = list(schedules.due(now=NOW, page_size=3))
    # Then it gets exactly those due by now (1..20 but the opted-out 5), each once, with their slot
    assert sorted(c for _, c, _ in due) == [n for n in range(1, 21) if n != 5]
    assert all(slot <= NOW for _, _, slot in due)
