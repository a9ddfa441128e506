"""The stale-update reconciler as the simulation runs it (usecases/reconcile_stale_updates.py, decision D33).

A trigger whose ``StartExecution`` Step Functions refused past botocore's retries answers 202 and leaves its update
open without a workflow; so does a scheduled start refused for good (its message comes back later too). The
reconciler, every ``rate(5 minutes)``, walks the open updates older than the grace period, oldest first: one no
workflow has reached is started by name (a Standard ``StartExecution``), one whose workflow runs is checked
(``DescribeExecution``). A call refused past botocore's retries ends the run (the next run goes on), as does the
invocation's time (its timeout less the sweep's reserve). A run makes its calls one after another, each taking the
measured time of one AWS call (the deferred update's ``aws_call_seconds``); what else a run does (its DynamoDB reads,
our CPU) is not modelled.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bench.scale.engine import Simulation
    from bench.scale.profile import UpdateProfile

DESCRIBE, START = "stepfunctions.DescribeExecution", "stepfunctions.StartExecution.standard"


@dataclass
class Deferred:
    at: float  # when the trigger answered 202 without a workflow
    due: float  # the press
    profile: UpdateProfile
    watched: bool = False
    on_start: Callable[[float], None] | None = None  # a scheduled start's; a press's workflow is watched


_Candidate = tuple[float, Deferred | None]


@dataclass
class ReconcilerModel:
    sim: Simulation
    phase: float  # the first run's time: the schedule does not wait for a rush
    pending: list[Deferred] = field(default_factory=list)
    running: list[tuple[float, float]] = field(default_factory=list)  # (created, ends) of updates a workflow runs
    _next_run: float | None = None
    call_seconds: float = 0.0  # one Step Functions call of a run

    def defer(
        self, now: float, due: float, profile: UpdateProfile, on_start: Callable[[float], None] | None = None
    ) -> Deferred:
        """An update open without a workflow; the caller marks it ``watched`` if something else starts it first (a
        scheduled start's message coming back): its record is no longer open without one, the reconciler skips it."""
        deferred = Deferred(now, due, profile, on_start=on_start)
        self.pending.append(deferred)
        self.call_seconds = profile.aws_call_seconds
        if self._next_run is None:
            self._schedule(now)
        return deferred

    def supervised(self, created: float, ends: float) -> None:
        self.running.append((created, ends))

    def _schedule(self, after: float) -> None:
        period = self.sim.policies.reconcile_period
        runs_before = max(0.0, (after - self.phase) // period + 1)
        self._next_run = self.phase + runs_before * period
        self.sim.at(self._next_run, self._run)

    def _run(self, now: float) -> None:
        older = now - self.sim.policies.orphan_grace
        ready = [d for d in self.pending if d.at <= older and not d.watched]
        checked = [created for created, ends in self.running if created <= older and ends > now]
        # Oldest first, as the index returns them: (created, the deferred update, or None for a running one)
        candidates: list[_Candidate] = [(d.at, d) for d in ready] + [(c, None) for c in checked]
        candidates.sort(key=lambda c: c[0])
        self._step(candidates, 0, now, now + self.sim.policies.reconcile_sweep_seconds)

    def _step(self, candidates: list[_Candidate], index: int, now: float, ends: float) -> None:
        if index == len(candidates) or now >= ends:
            self._done(now)
            return
        _, update = candidates[index]
        sim = self.sim

        def next_one(t: float) -> None:
            if update is not None:
                update.watched = True
                if update.on_start is not None:
                    update.on_start(t)
                else:
                    sim.watched(t, update.due, update.profile)
            # (through the event loop: no recursion)
            sim.at(t + self.call_seconds, lambda now: self._step(candidates, index + 1, now, ends))

        sim.call(DESCRIBE if update is None else START, now, sim.policies.sdk, next_one, self._done)

    def _done(self, now: float) -> None:
        """The run ended (its last candidate, its time, or a refusal): the next one comes if any wait."""
        self.pending = [d for d in self.pending if not d.watched]
        self._next_run = None
        if self.pending:
            self._schedule(now)
