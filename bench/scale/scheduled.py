"""The scheduled path in the simulation: ScheduleUpdates' runs (one window at the operator's rate, oldest first,
``domain/pacing.py``), the schedule queue (delays, visibility timeout, dead letters) and StartScheduledUpdate's event
source mapping (batches of ten, at most MaximumConcurrency at once, a batch's starts one after another)."""

from __future__ import annotations

import bisect
import heapq
import itertools
import math
from collections.abc import Callable, Sequence

from bankupdate.domain.pacing import Pacing
from bench.scale.engine import START, Simulation
from bench.scale.profile import UpdateProfile
from bench.scale.reconciler import Deferred

RUN_EVERY = 900.0  # ScheduleExpression's default, rate(15 minutes)
ESM_TICK = 0.2  # how often the event source looks for visible messages (it long-polls: at once, in AWS)


class ScheduledPath:
    def __init__(
        self,
        sim: Simulation,
        profile: UpdateProfile,
        due_at: list[float],
        pacing: Pacing,
        max_concurrency: int,
        horizon: float,
        batch_overhead_seconds: float = 0.0,
        start_times: Sequence[tuple[float, float]] = (),
    ) -> None:
        self.sim, self.profile, self.due_at, self.pacing = sim, profile, due_at, pacing
        # A start's time as a real run measured it over time: (began at, seconds per start) of each invocation, the
        # nearest in time taken for a batch (a loaded machine's speed varies, and a slow batch runs out of its time
        # where one of the mean would not); none given: the profile's mean, for every batch.
        ordered = sorted(start_times)
        self._start_times_at = [at for at, _ in ordered]
        self._start_times = [seconds for _, seconds in ordered]
        # How long the event source holds a batch's slot after the invocation (0 in AWS, where deleting the batch's
        # messages is the poller's own work; measured on the local stack, whose poller deletes them in the slot).
        self.batch_overhead_seconds = batch_overhead_seconds
        self.max_concurrency, self.horizon = max_concurrency, horizon
        self.started = bytearray(len(due_at))
        self.spent = bytearray(len(due_at))  # claimed: its due time moved to its next slot, out of this window
        self.dead = bytearray(len(due_at))  # claimed, then dead-lettered: only the reconciler may start it
        self.orphaned = bytearray(len(due_at))  # handed to the reconciler once
        self._ends: dict[int, float] = {}  # a started connection's update: when it ends
        self._deferred: dict[int, Deferred] = {}  # a connection handed to the reconciler: its entry there
        self._low = 0  # every connection below this index has started, or was claimed and dead-lettered
        self._queue: list[tuple[float, int, int, int]] = []  # (visible at, order, connection, receives)
        self._order = itertools.count()
        self.batches_in_flight = 0
        self.messages_in_flight = 0  # received by a batch and not yet deleted (or back on the queue)
        self.peak_in_flight = 0

    def begin(self) -> None:
        self.sim.at(0.0, self._run)
        self.sim.at(0.0, self._poll)

    def _done(self) -> bool:
        while self._low < len(self.started) and (self.started[self._low] or self.dead[self._low]):
            self._low += 1
        return self._low >= len(self.started)

    def _run(self, now: float) -> None:
        """ScheduleUpdates: what the queue still holds (visible, in flight, held back) counts against the window and
        is skipped at the head of the index (it is the oldest there); then the next due connections not started yet,
        oldest first, each held back by its place after what the queue holds."""
        if self._done():
            return
        still_queued = len(self._queue) + self.messages_in_flight
        room = max(0, self.pacing.per_run - still_queued)
        skipped = queued = 0
        index = self._low
        while queued < room and index < len(self.due_at) and self.due_at[index] <= now:
            # A claimed connection is not due any more (the claim moved it to its next slot): only its own message's
            # redelivery (or the reconciler, not modelled for this path) starts its workflow.
            if not self.started[index] and not self.spent[index]:
                if skipped < still_queued:
                    skipped += 1
                else:
                    visible = now + self.pacing.delay_of(still_queued + queued)
                    heapq.heappush(self._queue, (visible, next(self._order), index, 0))
                    queued += 1
            index += 1
        if now + RUN_EVERY < self.horizon:
            self.sim.at(now + RUN_EVERY, self._run)

    def _poll(self, now: float) -> None:
        """The event source: batches of visible messages while the function may run more."""
        queue = self._queue
        while self.batches_in_flight < self.max_concurrency and queue and queue[0][0] <= now:
            batch = [heapq.heappop(queue) for _ in range(min(self.sim.policies.batch_size, len(queue)))]
            ready = [m for m in batch if m[0] <= now]
            for message in batch[len(ready) :]:
                heapq.heappush(queue, message)
            if not self.sim.aws.invoke(START, now, 1):
                for message in ready:  # Lambda throttled the batch: the event source tries again shortly
                    heapq.heappush(queue, (now + 1.0, next(self._order), message[2], message[3]))
                break
            self.batches_in_flight += 1
            self.messages_in_flight += len(ready)
            self.peak_in_flight = max(self.peak_in_flight, self.batches_in_flight)
            self._process(
                now, [(m[2], m[3]) for m in ready], received=now, size=len(ready), per_start=self._per_start(now)
            )
        if (queue or not self._done()) and now < self.horizon:
            self.sim.at(now + ESM_TICK, self._poll)

    def _process(self, now: float, batch: list[tuple[int, int]], received: float, size: int, per_start: float) -> None:
        """One message of a batch, then the next: the claim, budget, finAPI, then StartExecution (botocore retries);
        a start refused for good, or not begun for want of time (``START_RESERVE_SECONDS`` left of the function's
        timeout), is reported failed and comes back after the visibility timeout."""
        if not batch:  # the invocation returns: its messages are deleted, or back on the queue (counted there)
            self.sim.aws.release(START, 1)
            self.sim.at(now + self.batch_overhead_seconds, lambda t: self._batch_done(size))
            return
        (connection, receives), rest = batch[0], batch[1:]
        sim, tally = self.sim, self.sim.tally
        policies = sim.policies
        if received + policies.start_timeout - now < policies.start_reserve:
            # StartPostponed: too little of the invocation is left; reported failed, back after the visibility timeout
            tally.postponed += 1
            self._back_to_queue(received, connection, receives)
            self._process(now, rest, received, size, per_start)
            return
        if self.spent[connection] or self.started[connection]:
            tally.duplicates += 1  # the claim is there: no second finAPI call, no second budget unit
            if self._ends.get(connection, math.inf) <= now:
                # Its update ended (the reconciler started it): the record is terminal, no StartExecution is made
                # (usecases/start_scheduled_update.py, _start) and the message is deleted
                self._process(now + per_start, rest, received, size, per_start)
                return
        else:
            self.spent[connection] = 1
            tally.budget_spent += 1

        def next_message(t: float) -> None:
            self._process(t, rest, received, size, per_start)

        def started(t: float) -> None:
            self._start_once(connection, t)
            next_message(t)

        def reconciler_started(t: float) -> None:
            self._start_once(connection, t)

        def refused(t: float) -> None:
            # Refused for rate: the function brings the message's return forward, spread (D39)
            retry = policies.throttled_retry
            visible = t + retry.delay(receives + 1, sim.rng.random()) if retry is not None else None
            self._back_to_queue(received, connection, receives, visible)
            if not self.orphaned[connection]:  # claimed and open without a workflow: the reconciler's too
                self.orphaned[connection] = 1
                due = self.due_at[connection]
                self._deferred[connection] = sim.reconciler.defer(t, due, self.profile, reconciler_started)
            next_message(t)

        def call(t: float) -> None:
            sim.call("stepfunctions.StartExecution.standard", t, sim.policies.sdk, started, refused)

        later: Callable[[float], None] = call
        sim.at(now + per_start, later)

    def _start_once(self, connection: int, now: float) -> None:
        """The connection's workflow started (by its message, or by the reconciler); a second start is a no-op."""
        if not self.started[connection]:
            self.started[connection] = 1
            self._ends[connection] = now + self.profile.end_seconds
            deferred = self._deferred.pop(connection, None)
            if deferred is not None:  # started by its message: the reconciler finds it running, or ended
                deferred.watched = True
            self.sim._started(now, self.due_at[connection], self.profile, user_present=False)

    def _per_start(self, now: float) -> float:
        if not self._start_times:
            return self.profile.start_seconds
        after = bisect.bisect_left(self._start_times_at, now)
        nearest = min(
            (i for i in (after - 1, after) if 0 <= i < len(self._start_times)),
            key=lambda i: abs(self._start_times_at[i] - now),
        )
        return self._start_times[nearest]

    def _batch_done(self, size: int) -> None:
        self.messages_in_flight -= size
        self.batches_in_flight -= 1

    def _back_to_queue(self, received: float, connection: int, receives: int, visible: float | None = None) -> None:
        """The message comes back at ``visible``, or when the visibility timeout its receive began ends."""
        policies, tally = self.sim.policies, self.sim.tally
        if receives + 1 >= policies.max_receives:
            tally.dead_lettered += 1
            if self.spent[connection]:
                self.dead[connection] = 1
            return
        tally.redelivered += 1
        if visible is None:
            visible = received + policies.visibility_timeout
        heapq.heappush(self._queue, (visible, next(self._order), connection, receives + 1))
