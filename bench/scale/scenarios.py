"""The two scenarios of issue 22 item 4, and ``predict``: the simulation pointed at any arrivals (a local-stack run's
included), returning the figures the bench reports."""

from __future__ import annotations

import math
import random
import statistics
from collections.abc import Sequence

from pydantic import BaseModel

from bankupdate.domain.pacing import Pacing
from bench.scale.engine import RetryQuota, Simulation
from bench.scale.plane import RATE_KEYS
from bench.scale.policies import Policies
from bench.scale.profile import UpdateProfile
from bench.scale.scheduled import ScheduledPath
from local_stack.quotas import Quotas

SQS_REQUEST_USD = 4e-7  # bench/pricing.py sqs.request: a redelivery costs a receive and a delete


class QuotaUse(BaseModel):
    quota: str
    met: float  # calls refused (each refusal counted, retries included)
    absorbed: float  # refused calls that went through on a retry
    failed: float  # refused past the last retry
    first_refused_at: float | None
    busiest_minute_share: float  # the largest share of the quota's steady rate one minute used


class Outcome(BaseModel):
    scenario: str
    updates: int
    started: int
    completion_seconds: float  # the last start
    finished_seconds: float  # the last update's end
    p50_to_start_seconds: float
    p95_to_start_seconds: float
    p50_to_watch_seconds: float  # a press: to its workflow's start (the same as to start unless deferred)
    p95_to_watch_seconds: float
    deferred: int  # presses answered 202 whose workflow the reconciler started (D33)
    answered_retryable: int
    gave_up: int
    start_failed: int
    workflow_failed: int
    lost: int  # neither started nor answered (scheduled: dead-lettered, or never queued within the horizon)
    left_locked: int
    double_budget: int
    redelivered: int
    postponed: int = 0  # of the redelivered: starts not begun for want of the invocation's time
    duplicates: int
    peak_lambda_concurrency: int
    lambda_concurrency_limit: int
    peak_by_function: dict[str, int]
    quotas: list[QuotaUse]
    first_binding: str | None
    cost_usd: float
    parameters: dict[str, float | int | str]


def _percentile(values: Sequence[float], share: float) -> float:
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.ceil(share * len(ordered)) - 1)]


def _outcome(
    scenario: str, sim: Simulation, updates: int, profile: UpdateProfile, parameters: dict[str, float | int | str]
) -> Outcome:
    aws, tally = sim.aws, sim.tally
    keys = [*RATE_KEYS, "lambda.concurrency"]
    uses = [
        QuotaUse(
            quota=key,
            met=aws.met[key],
            absorbed=aws.absorbed[key],
            failed=aws.failed[key],
            first_refused_at=aws.first_refusal.get(key),
            busiest_minute_share=round(aws.busiest_minute_share(key), 4) if key in RATE_KEYS else 0.0,
        )
        for key in keys
    ]
    first = min(aws.first_refusal.items(), key=lambda item: item[1], default=None)
    started = len(tally.started)
    unanswered = updates - started - tally.gave_up - tally.start_failed
    return Outcome(
        scenario=scenario,
        updates=updates,
        started=started,
        completion_seconds=round(tally.last_started, 1),
        finished_seconds=round(tally.last_finished, 1),
        p50_to_start_seconds=round(statistics.median(tally.started), 2) if tally.started else math.nan,
        p95_to_start_seconds=round(_percentile(tally.started, 0.95), 2),
        p50_to_watch_seconds=round(statistics.median(tally.watched), 2) if tally.watched else math.nan,
        p95_to_watch_seconds=round(_percentile(tally.watched, 0.95), 2),
        deferred=tally.deferred,
        answered_retryable=tally.answered_retryable,
        gave_up=tally.gave_up,
        start_failed=tally.start_failed,
        workflow_failed=tally.workflow_failed,
        lost=max(0, unanswered) + len(sim.reconciler.pending),  # (a press whose workflow never started: open)
        left_locked=0,  # every failure path above ends in the Finalizer (lock released); see scale.md
        double_budget=max(0, tally.budget_spent - updates),
        redelivered=tally.redelivered,
        postponed=tally.postponed,
        duplicates=tally.duplicates,
        peak_lambda_concurrency=aws.peak_concurrency,
        lambda_concurrency_limit=aws.concurrency_limit,
        peak_by_function=dict(aws.peak_by_function),
        quotas=uses,
        first_binding=first[0] if first else None,
        cost_usd=round(started * profile.cost_usd + (tally.redelivered + tally.duplicates) * 2 * SQS_REQUEST_USD, 2),
        parameters=parameters,
    )


def predict_rush(
    arrivals: Sequence[float], quotas: Quotas, profile: UpdateProfile, policies: Policies, scenario: str = "rush"
) -> Outcome:
    """User-present presses at ``arrivals`` (seconds), through the HTTP API and TriggerUpdate."""
    sim = Simulation(quotas, policies, tick=0.1)
    for pressed in arrivals:
        sim.press(pressed, profile)
    sim.run()
    return _outcome(scenario, sim, len(arrivals), profile, {"presses": len(arrivals)})


def predict_night(
    due_at: Sequence[float],
    quotas: Quotas,
    profile: UpdateProfile,
    policies: Policies,
    *,
    starts_per_second: float,
    max_concurrency: int,
    horizon: float = math.inf,
    scenario: str = "night",
    seed: int = 22,
    batch_overhead_seconds: float = 0.0,
    shared_retry_quota: bool = False,
    start_times: Sequence[tuple[float, float]] = (),
    reconcile_phase: float | None = None,
) -> Outcome:
    """Connections due at ``due_at`` (seconds), drained by the scheduled path at the given parameters; a batch's
    start time from ``start_times`` (began at, seconds per start) nearest its time when given, else the profile's;
    the reconciler's runs at ``reconcile_phase`` plus its period's multiples (None: a phase drawn at random;
    ``math.inf``: no run, as in a real run that never fired it)."""
    sim = Simulation(quotas, policies, seed=seed, tick=1.0)
    if reconcile_phase is not None:
        sim.reconciler.phase = reconcile_phase
    if shared_retry_quota:  # the local stack: every start through one botocore client
        sim.retry_quota = RetryQuota()
    pacing = Pacing.of(starts_per_second, "rate(15 minutes)")
    path = ScheduledPath(
        sim, profile, list(due_at), pacing, max_concurrency, horizon, batch_overhead_seconds, start_times
    )
    path.begin()
    sim.run(until=horizon)
    parameters: dict[str, float | int | str] = {
        "ScheduledStartsPerSecond": starts_per_second,
        "ScheduledStartConcurrency": max_concurrency,
        "horizon_seconds": horizon,
    }
    outcome = _outcome(scenario, sim, len(due_at), profile, parameters)
    # Lost: claimed (finAPI called), dead-lettered and never started by the reconciler either. A connection not
    # started within the horizon, or dead-lettered before its claim, is not lost: it is still due, in the index.
    lost = sum(1 for dead, started in zip(path.dead, path.started, strict=True) if dead and not started)
    return outcome.model_copy(update={"lost": lost})


def rush_arrivals(presses: int, within_seconds: float, seed: int = 22) -> list[float]:
    rng = random.Random(seed)
    return sorted(rng.uniform(0, within_seconds) for _ in range(presses))
