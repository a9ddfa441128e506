"""ScheduleUpdates under a backlog: one window of due connections queued at the operator's rate, oldest first; the
rest left in the index for the next run (issue 22 item 3)."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

from bankupdate.contract import DueConnection
from bankupdate.domain.model import ConnectionRecord, ScheduleState
from bankupdate.domain.pacing import Pacing
from bankupdate.usecases.schedule_updates import ScheduleUpdates
from tests.fakes.clock import ManualClock
from tests.fakes.connections import ConnectionItems, InMemoryScheduleStore
from tests.fakes.queue import RecordingDueQueue

NOW = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)


def backlog(count: int) -> ConnectionItems:
    """``count`` connections, the n-th due n seconds before the run (so connection 1 is the newest)."""
    items = ConnectionItems()
    for n in range(1, count + 1):
        due = NOW - timedelta(seconds=n)
        items.put(
            ConnectionRecord(
                owner_id=f"user-{n % 7}",
                connection_id=n,
                created_at=NOW - timedelta(days=1),
                schedule=ScheduleState(enabled=True, next_due_at=due),
            )
        )
    return items


def run(items: ConnectionItems, pacing: Pacing) -> tuple[ScheduleUpdates, RecordingDueQueue]:
    queue = RecordingDueQueue()
    return ScheduleUpdates(InMemoryScheduleStore(items), queue, ManualClock(NOW).port, pacing), queue


def test_a_backlog_is_queued_one_window_at_the_operators_rate() -> None:
    # Given 1,000 connections due and a drain of 2 starts a second with a scheduler every minute
    schedule, queue = run(backlog(1000), Pacing.of(2, "rate(1 minute)"))
    # When the scheduler runs
    outcome = schedule()
    # Then it queues one minute's worth (120), says its window is full, and never releases more than 2 a second
    assert (outcome.enqueued, outcome.window_full) == (120, True)
    assert max(Counter(queue.delays).values()) == 2
    assert max(queue.delays) == 59


def test_the_oldest_due_connections_go_first() -> None:
    # Given 300 due connections and a window of 100
    schedule, queue = run(backlog(300), Pacing(starts_per_second=5, window_seconds=20))
    # When the scheduler runs
    schedule()
    # Then the 100 queued are the 100 longest overdue, the oldest with the shortest delay
    queued = [DueConnection.model_validate(m.model_dump()) for m in queue.sent]
    assert [m.connection_id for m in queued] == list(range(300, 200, -1))
    assert queue.delays == sorted(queue.delays)


def test_what_a_run_left_is_queued_by_the_next() -> None:
    # Given a run that left part of a backlog in the index (nothing was started in between)
    items = backlog(30)
    pacing = Pacing(starts_per_second=1, window_seconds=20)
    first, _ = run(items, pacing)
    first_run = first()
    # When the next run comes
    second, queue = run(items, pacing)
    second_run = second()
    # Then it queues again from the oldest: a connection still due is never dropped (a second copy of a slot is
    # harmless: StartScheduledUpdate starts a slot once)
    assert (first_run.enqueued, second_run.enqueued) == (20, 20)
    assert DueConnection.model_validate(queue.sent[0].model_dump()).connection_id == 30


def test_a_run_below_its_window_holds_nothing_back() -> None:
    # Given 12 due connections and the template's default 50 a second
    schedule, queue = run(backlog(12), Pacing.of(50, "rate(15 minutes)"))
    # When the scheduler runs
    outcome = schedule()
    # Then all are queued at once, with no delay, and the window is not full
    assert (outcome.enqueued, outcome.window_full) == (12, False)
    assert set(queue.delays) == {0}
