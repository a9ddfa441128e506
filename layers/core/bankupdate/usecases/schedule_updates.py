"""ScheduleUpdates: find the connections due now (sparse GSI, never a Scan) and queue them in batches of ten."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from bankupdate.contract import DueConnection
from bankupdate.observability import logger, metrics
from bankupdate.ports import Clock, DueQueue, ScheduleStore


@dataclass(frozen=True)
class ScheduleRun:
    due: int
    enqueued: int
    queue_calls: int


@dataclass
class ScheduleUpdates:
    schedules: ScheduleStore
    queue: DueQueue
    clock: Clock

    def __call__(self) -> ScheduleRun:
        now = self.clock.now()
        found = 0

        def due_messages() -> Iterator[DueConnection]:
            nonlocal found
            for owner_id, connection_id, slot in self.schedules.due(now=now):
                found += 1
                yield DueConnection(owner_id=owner_id, connection_id=connection_id, slot=slot)

        enqueued, calls = self.queue.send_all(due_messages())
        metrics.add_metric(name="ScheduledConnectionsQueued", unit="Count", value=enqueued)
        logger.info("scheduled run queued due connections", extra={"due": found, "queue_calls": calls})
        return ScheduleRun(due=found, enqueued=enqueued, queue_calls=calls)
