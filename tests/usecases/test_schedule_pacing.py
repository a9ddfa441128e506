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


def test_a_run_queues_only_what_the_consumer_caught_up_on() -> None:
    # Given a window of 20 queued by a run, of which StartScheduledUpdate has handled 15 (started: out of the index)
    items = backlog(60)
    queue = RecordingDueQueue()
    pacing = Pacing(starts_per_second=1, window_seconds=20)
    store = InMemoryScheduleStore(items)
    schedule = ScheduleUpdates(store, queue, ManualClock(NOW).port, pacing)
    schedule()
    for message in queue.sent[:15]:  # each started: its next slot is hours away
        handled = DueConnection.model_validate(message.model_dump())
        store.set_schedule(handled.owner_id, handled.connection_id, enabled=True, next_due_at=NOW + timedelta(hours=6))
    queue.handled = 15
    # When the next run comes
    outcome = schedule()
    # Then it counts the 5 still queued against its window: it queues 15 new ones, none of those 5 again, each after
    # the 5 in time
    new = [DueConnection.model_validate(m.model_dump()).connection_id for m in queue.sent[20:]]
    assert (outcome.still_queued, outcome.enqueued) == (5, 15)
    assert new == list(range(40, 25, -1))
    assert queue.delays[20:] == list(range(5, 20))


def test_a_full_queue_queues_nothing() -> None:
    # Given a run whose whole window is still in the queue (StartScheduledUpdate handled none of it)
    items = backlog(50)
    queue = RecordingDueQueue()
    schedule = ScheduleUpdates(InMemoryScheduleStore(items), queue, ManualClock(NOW).port, Pacing(1, 20))
    schedule()
    # When the next run comes
    outcome = schedule()
    # Then it sends nothing: no due connection is queued twice, none is dropped (they all wait in the index)
    assert (outcome.still_queued, outcome.enqueued, len(queue.sent)) == (20, 0, 20)
    assert outcome.window_full


def test_a_run_below_its_window_holds_nothing_back() -> None:
    # Given 12 due connections and the template's default 50 a second
    schedule, queue = run(backlog(12), Pacing.of(50, "rate(15 minutes)"))
    # When the scheduler runs
    outcome = schedule()
    # Then all are queued at once, with no delay, and the window is not full
    assert (outcome.enqueued, outcome.window_full) == (12, False)
    assert set(queue.delays) == {0}
