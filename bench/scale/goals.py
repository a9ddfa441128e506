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
    answered = outcome.started + outcome.gave_up
    return [
        _goal(
            "every press started, or answered with a retryable 429/503",
            outcome.start_failed == 0 and answered == outcome.updates,
            f"{outcome.started} started, {outcome.gave_up} still refused after the app's retries (429/5xx), "
            f"{outcome.start_failed} answered 500 (StartExecution refused past botocore's retries)",
        ),
        _goal("p95 press -> started <= 10 s", outcome.p95_to_start_seconds <= 10, outcome.p95_to_start_seconds),
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
