"""Issue 22's goals for the two scenarios, each with the figure that decides it."""

from __future__ import annotations

from bench.scale.scenarios import Outcome

SFN_RATES = (
    "stepfunctions.StartExecution.standard",
    "stepfunctions.StartExecution.express",
    "stepfunctions.SendTaskSuccess",
    "stepfunctions.SendTaskHeartbeat",
    "stepfunctions.StateTransition.standard",
)


def _goal(name: str, met: bool, figure: object) -> dict[str, object]:
    return {"goal": name, "met": bool(met), "figure": figure}


def rush_goals(outcome: Outcome) -> list[dict[str, object]]:
    # A press still refused after the app's retries got API Gateway's own 429 (or, when Lambda throttled the
    # trigger, its 5xx): retryable, but without Retry-After, so it does not count as answered as the goal asks.
    # Started: the trigger answered 202, finAPI has the update (its workflow started then, or by the reconciler).
    return [
        _goal(
            "every press started, or answered with a retryable 429/503 and Retry-After",
            outcome.start_failed == 0 and outcome.gave_up == 0,
            f"{outcome.started} started ({outcome.deferred} of them with the workflow deferred to the reconciler), "
            f"{outcome.gave_up} still refused by API Gateway or Lambda after the app's retries (429/5xx without "
            "Retry-After)",
        ),
        _goal(
            "p95 press -> started <= 10 s",
            outcome.p95_to_start_seconds <= 10,
            f"{outcome.p95_to_start_seconds} (to the workflow's start: {outcome.p95_to_watch_seconds})",
        ),
        _goal("0 lost", outcome.lost == 0, outcome.lost),
        _goal("0 locked", outcome.left_locked == 0, outcome.left_locked),
        _goal("no update failed by a throttle after its start", outcome.workflow_failed == 0, outcome.workflow_failed),
    ]


def night_goals(outcome: Outcome, night_seconds: float) -> list[dict[str, object]]:
    shares = {q.quota: q.busiest_minute_share for q in outcome.quotas}
    sfn_share = max(shares.get(key, 0.0) for key in SFN_RATES)
    concurrency_share = outcome.peak_lambda_concurrency / outcome.lambda_concurrency_limit
    all_started = outcome.started == outcome.updates
    return [
        _goal(
            f"all {outcome.updates:,} started within {night_seconds / 3600:.0f} h",
            all_started and outcome.completion_seconds <= night_seconds,
            f"{outcome.started:,} started, the last at {outcome.completion_seconds / 3600:.2f} h",
        ),
        _goal(
            "half of Step Functions' rates left for users (busiest minute)",
            sfn_share <= 0.5,
            round(sfn_share, 3),
        ),
        _goal(
            "half of the Lambda concurrency left for users (peak)",
            concurrency_share <= 0.5,
            round(concurrency_share, 3),
        ),
        _goal("0 lost", outcome.lost == 0, outcome.lost),
        _goal("0 double budget", outcome.double_budget == 0, outcome.double_budget),
        _goal("no update failed by a throttle after its start", outcome.workflow_failed == 0, outcome.workflow_failed),
    ]
