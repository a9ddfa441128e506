"""ScheduleUpdates: find the connections due now (sparse GSI, never a Scan, oldest first) and queue one window of
them in batches of ten, each held back by its place so that they reach StartScheduledUpdate at the operator's rate
(``domain/pacing.py``); the rest wait in the index for the next run.

What the queue still holds counts against the window (backpressure): when StartScheduledUpdate drains slower than the
rate, a run queues only what the consumer caught up on, and skips the oldest due connections as many as the queue
holds (they are the ones it holds: every run queues oldest first, and a connection leaves the index when it starts).
Without that a slow consumer would get every connection of its backlog a second time each run."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from itertools import islice

from bankupdate.contract import DueConnection
from bankupdate.domain.pacing import Pacing
from bankupdate.observability import logger, metrics
from bankupdate.ports import Clock, DueQueue, ScheduleStore


@dataclass(frozen=True)
class ScheduleRun:
    due: int  # read from the index: the run stops reading once its window is full
    enqueued: int
    queue_calls: int
    window_full: bool = False  # more may be due: the next run queues them
    still_queued: int = 0  # what the previous runs queued and StartScheduledUpdate had not handled yet


@dataclass
class ScheduleUpdates:
    schedules: ScheduleStore
    queue: DueQueue
    clock: Clock
    pacing: Pacing

    def __call__(self) -> ScheduleRun:
        now = self.clock.now()
        still_queued = self.queue.waiting()
        room = max(0, self.pacing.per_run - still_queued)
        found = 0

        def due_messages() -> Iterator[DueConnection]:
            nonlocal found
            for owner_id, connection_id, slot in self.schedules.due(now=now):
                found += 1
                yield DueConnection(owner_id=owner_id, connection_id=connection_id, slot=slot)

        if room == 0:  # the queue holds a whole window: do not even read the index
            enqueued = calls = 0
        else:  # the new ones come after what the queue holds, in time as in the index
            window = islice(due_messages(), still_queued, still_queued + room)
            enqueued, calls = self.queue.send_all(window, delay_of=lambda i: self.pacing.delay_of(still_queued + i))
        full = enqueued >= room
        metrics.add_metric(name="ScheduledConnectionsQueued", unit="Count", value=enqueued)
        if full:
            metrics.add_metric(name="ScheduleWindowFull", unit="Count", value=1)
        logger.info(
            "scheduled run queued due connections",
            extra={
                "due": found,
                "queue_calls": calls,
                "window_full": full,
                "per_run": self.pacing.per_run,
                "still_queued": still_queued,
            },
        )
        return ScheduleRun(due=found, enqueued=enqueued, queue_calls=calls, window_full=full, still_queued=still_queued)
