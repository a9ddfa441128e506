"""ScheduleUpdates: find the connections due now (sparse GSI, never a Scan, oldest first) and queue one window of
them in batches of ten, each held back by its place so that they reach StartScheduledUpdate at the operator's rate
(``domain/pacing.py``); the rest wait in the index for the next run."""

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
    due: int  # found and queued: the run stops reading the index once its window is full
    enqueued: int
    queue_calls: int
    window_full: bool = False  # more may be due: the next run queues them


@dataclass
class ScheduleUpdates:
    schedules: ScheduleStore
    queue: DueQueue
    clock: Clock
    pacing: Pacing

    def __call__(self) -> ScheduleRun:
        now = self.clock.now()
        found = 0

        def due_messages() -> Iterator[DueConnection]:
            nonlocal found
            for owner_id, connection_id, slot in self.schedules.due(now=now):
                found += 1
                yield DueConnection(owner_id=owner_id, connection_id=connection_id, slot=slot)

        window = islice(due_messages(), self.pacing.per_run)
        enqueued, calls = self.queue.send_all(window, delay_of=self.pacing.delay_of)
        full = enqueued >= self.pacing.per_run
        metrics.add_metric(name="ScheduledConnectionsQueued", unit="Count", value=enqueued)
        if full:
            metrics.add_metric(name="ScheduleWindowFull", unit="Count", value=1)
        logger.info(
            "scheduled run queued due connections",
            extra={"due": found, "queue_calls": calls, "window_full": full, "per_run": self.pacing.per_run},
        )
        return ScheduleRun(due=found, enqueued=enqueued, queue_calls=calls, window_full=full)
