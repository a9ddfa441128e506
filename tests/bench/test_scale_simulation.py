"""The scale bench's simulation on small cases whose counts follow from the quotas and the code's rules (no timing:
virtual time only), and the real run's figures it is checked against (issue 22 item 4)."""

from __future__ import annotations

import json
import math
from dataclasses import replace

import pytest

from bankupdate.domain.pacing import Pacing
from bankupdate.domain.redelivery import ThrottledRetry
from bench.harness import ROOT
from bench.scale.engine import POLL, TRIGGER, Simulation
from bench.scale.plane import AwsPlane
from bench.scale.policies import Policies, load_policies
from bench.scale.profile import UpdateProfile, load_profile
from bench.scale.scenarios import Outcome, predict_night, predict_rush, rush_arrivals
from bench.scale.scheduled import ScheduledPath
from bench.scale.validate import simulate
from local_stack.quotas import Quotas

START = "stepfunctions.StartExecution.standard"


@pytest.fixture(scope="module")
def policies() -> Policies:
    return load_policies()


@pytest.fixture(scope="module")
def scheduled() -> UpdateProfile:
    return load_profile("ACCESS", "scheduled", 5.0)


def test_a_paced_night_starts_each_due_connection_once_at_the_rate(
    policies: Policies, scheduled: UpdateProfile
) -> None:
    # Given 1,000 connections due at once, 10 starts a second and a start function that keeps up
    quotas = Quotas.default("eu-central-1", function_limits={"StartScheduledUpdate": 50})
    # When the night is simulated
    night = predict_night([0.0] * 1000, quotas, scheduled, policies, starts_per_second=10, max_concurrency=50)
    # Then every one starts once, in about 100 s (the rate; the last second's ten are one batch, started one after
    # another), nothing throttled or lost
    assert (night.started, night.lost, night.double_budget, night.duplicates, night.redelivered) == (1000, 0, 0, 0, 0)
    assert 99 <= night.completion_seconds <= 100 + 10 * scheduled.start_seconds
    assert night.first_binding is None


def test_a_slow_start_function_is_never_sent_its_backlog_twice(policies: Policies, scheduled: UpdateProfile) -> None:
    # Given 3,000 due connections, a run's window of 9,000 (10 a second) and one batch at a time (far below the rate)
    quotas = Quotas.default("eu-central-1", function_limits={"StartScheduledUpdate": 1})
    # When the night is simulated over several scheduler runs
    night = predict_night([0.0] * 3000, quotas, scheduled, policies, starts_per_second=10, max_concurrency=1)
    # Then the queue's depth held the next runs back: no duplicate delivery, all started, one budget unit each
    assert (night.started, night.duplicates, night.double_budget, night.lost) == (3000, 0, 0, 0)


def test_a_claimed_start_that_step_functions_never_admits_is_dead_lettered_not_queued_again(
    policies: Policies, scheduled: UpdateProfile
) -> None:
    # Given 20 due connections and a StartExecution quota that admits almost nothing (one start, never refilled)
    quotas = Quotas.default("eu-central-1", function_limits={"StartScheduledUpdate": 2}).with_overrides(
        stepfunctions__StartExecution__standard=(1, 0)
    )
    # When the night is simulated for half a day (five receives take an hour)
    night = predict_night(
        [0.0] * 20, quotas, scheduled, policies, starts_per_second=10, max_concurrency=2, horizon=43_200
    )
    # Then it ends: one started, and each of the others was claimed once (one budget unit, one finAPI call) and its
    # message went through its receives to the dead-letter queue; the scheduler's later runs did not queue a claimed
    # connection again (the claim moved its due time to the next slot), so none of them started nor spent twice
    assert (night.started, night.double_budget, night.lost) == (1, 0, 19)
    assert night.redelivered == 19 * (policies.max_receives - 1)


def test_scheduled_starts_refused_past_their_receives_are_started_by_the_reconciler(
    policies: Policies, scheduled: UpdateProfile
) -> None:
    # Given 20 due connections and a StartExecution quota that admits one start every 20 s
    quotas = Quotas.default("eu-central-1", function_limits={"StartScheduledUpdate": 2}).with_overrides(
        stepfunctions__StartExecution__standard=(1, 0.05)
    )

    def night(reconcile_phase: float) -> Outcome:
        return predict_night(
            [0.0] * 20,
            quotas,
            scheduled,
            policies,
            starts_per_second=10,
            max_concurrency=2,
            horizon=43_200,
            reconcile_phase=reconcile_phase,
        )

    # When the night is simulated with the reconciler's runs every five minutes, and without them
    with_reconciler, without = night(0.0), night(math.inf)
    # Then with it every claimed update's workflow starts, once each and on one budget unit, though most messages
    # went through their receives; without it the updates whose messages were dead-lettered stay open (lost)
    assert (with_reconciler.started, with_reconciler.lost, with_reconciler.double_budget) == (20, 0, 0)
    assert without.lost > 0 and without.started + without.lost == 20


def test_a_batch_that_runs_out_of_time_postpones_its_last_starts_and_loses_none(
    policies: Policies, scheduled: UpdateProfile
) -> None:
    # Given 100 due connections and starts of 10 s: a batch of ten would outlast the function's timeout less the
    # reserve a start needs (120 s, 60 s: the template's)
    slow = scheduled.model_copy(update={"start_seconds": 10.0})
    # When the night is simulated
    night = predict_night(
        [0.0] * 100, Quotas.default("eu-central-1"), slow, policies, starts_per_second=10, max_concurrency=10
    )
    # Then each batch began only the starts its time allowed; the rest came back after the visibility timeout and
    # started then: every connection once, none lost, no budget twice
    assert night.postponed > 0 and night.redelivered >= night.postponed
    assert (night.started, night.lost, night.double_budget) == (100, 0, 0)
    assert night.completion_seconds >= policies.visibility_timeout


def test_starts_that_slow_down_during_a_run_postpone_where_their_mean_would_not(
    policies: Policies, scheduled: UpdateProfile
) -> None:
    # Given 200 due connections and starts of 5 s on the mean: a batch of ten of those fits the function's time
    # (120 s, of which a start needs 60 s left), one of 9 s a start does not
    even = scheduled.model_copy(update={"start_seconds": 5.0})

    def night(start_times: tuple[tuple[float, float], ...]) -> Outcome:
        return predict_night(
            [0.0] * 200,
            Quotas.default("eu-central-1"),
            even,
            policies,
            starts_per_second=10,
            max_concurrency=10,
            start_times=start_times,
        )

    # When the night is simulated with every batch at the mean, then with a machine that starts in 1 s for the first
    # ten seconds and in 9 s after (a real run's invocations, replayed by when they began)
    alike, varied = night(()), night(((0.0, 1.0), (9.0, 1.0), (10.0, 9.0), (1000.0, 9.0)))
    # Then only the slow batches ran out of time: their last starts came back after the visibility timeout, and
    # every connection still started once
    assert alike.postponed == 0 and alike.completion_seconds < policies.visibility_timeout
    assert varied.postponed > 0 and varied.completion_seconds >= policies.visibility_timeout
    assert (varied.started, varied.lost, varied.double_budget) == (200, 0, 0)


def test_a_scaled_start_quota_binds_and_its_refusals_are_retried_not_lost(
    policies: Policies, scheduled: UpdateProfile
) -> None:
    # Given 600 due connections drained at 20 a second (starts of 0.2 s, eight batches at once) through a
    # StartExecution bucket of 20, refilled 5 a second
    quotas = Quotas.default("eu-central-1").with_overrides(stepfunctions__StartExecution__standard=(20, 5))
    fast = scheduled.model_copy(update={"start_seconds": 0.2})
    # When the night is simulated
    night = predict_night([0.0] * 600, quotas, fast, policies, starts_per_second=20, max_concurrency=8)
    # Then the bucket binds first and sets the pace (no faster than its burst and refill allow), refused starts are
    # retried (by botocore, else from the queue) until every connection started once: none lost, no budget twice
    (start,) = [q for q in night.quotas if q.quota == START]
    assert night.first_binding == START
    assert start.met > 0
    assert night.completion_seconds >= (600 - 20) / 5
    assert (night.started, night.lost, night.double_budget) == (600, 0, 0)


def test_a_rush_through_the_stage_throttle_starts_or_answers_every_press(policies: Policies) -> None:
    # Given 4,000 presses within two seconds against the prod stage's 400 a second (burst 800)
    profile = load_profile("ACCESS", "user-present, no SCA", 60.0)
    quotas = Quotas.default("eu-central-1", stage="prod")
    # When the rush is simulated
    rush = predict_rush(rush_arrivals(4000, 2.0), quotas, profile, policies)
    # Then the stage throttle binds first, and every press is either started or still refused after the app's
    # retries (answered 429): none is lost
    assert rush.first_binding == "apigateway.stage"
    assert rush.answered_retryable > 0
    assert rush.started + rush.gave_up + rush.start_failed == 4000
    assert rush.lost == 0


@pytest.mark.parametrize("run", ["scale_validation_200", "scale_validation_150_d39"])
def test_the_simulation_of_the_committed_real_run_starts_what_it_started(run: str) -> None:
    # Given a real local-stack run of the scheduled path, every connection due at once: the 200-update run, whose
    # start time the simulation can take as measured (in the later 150-update run most batches met a throttle and
    # the few that did not, whose time it takes, were short: scale_validation_150.md), and the 150-update run with
    # the StartExecution quota binding and refused starts brought back sooner (D39)
    real = json.loads((ROOT / "bench" / "results" / f"{run}.json").read_text())["real"]
    # When the simulation is pointed at the same arrivals, parameters, bucket and measured start time
    simulated = simulate(real, seeds=range(1))["runs"][0]
    # Then both started every update once: the real run left no connection locked and every execution ended, and
    # the simulation lost none and spent no budget twice (its times and throttles are the bench's figures, not
    # asserted here: scale_validation*.md)
    assert real["started"] == real["updates"]
    assert (real["left_locked"], real["settled"], set(real["executions"])) == (0, True, {"SUCCEEDED"})
    assert (simulated["started"], simulated["lost"], simulated["double_budget"]) == (real["updates"], 0, 0)


def test_polls_lambda_refuses_cool_down_and_no_update_fails_after_its_start(policies: Policies) -> None:
    # Given 2,000 presses within ten seconds that the stage lets through, and an account with little concurrency left
    profile = load_profile("ACCESS", "user-present, no SCA", 60.0)
    quotas = Quotas.default("eu-central-1", stage="prod").with_overrides(
        apigateway__stage=(100_000, 100_000), lambda__concurrency=(30, 0)
    )
    # When the rush is simulated
    rush = predict_rush(rush_arrivals(2000, 10.0), quotas, profile, policies)
    # Then Lambda refused polls past the loop's Retry, and each cooled down and polled again: no update that started
    # failed for it, none was lost
    (concurrency,) = [q for q in rush.quotas if q.quota == "lambda.concurrency"]
    assert concurrency.met > 0 and concurrency.absorbed > 0
    assert (rush.workflow_failed, rush.lost) == (0, 0)


def test_a_rush_whose_starts_step_functions_refuses_is_answered_and_the_reconciler_starts_the_workflows(
    policies: Policies,
) -> None:
    # Given 2,000 presses within ten seconds that the stage and Lambda let through, and a StartExecution bucket of
    # 100 refilled 20 a second
    profile = load_profile("ACCESS", "user-present, no SCA", 60.0)
    quotas = Quotas.default("eu-central-1", stage="prod").with_overrides(
        apigateway__stage=(100_000, 100_000),
        lambda__concurrency=(100_000, 0),
        stepfunctions__StartExecution__standard=(100, 20),
    )
    # When the rush is simulated
    rush = predict_rush(rush_arrivals(2000, 10.0), quotas, profile, policies)
    # Then every press started (202: finAPI has its update); those whose StartExecution stayed refused through
    # botocore's retries got their workflow from the reconciler, past the grace period; none was lost or failed
    (start,) = [q for q in rush.quotas if q.quota == START]
    assert 0 < rush.deferred <= start.failed  # (a reconciler run that meets the refusal stops there too)
    assert (rush.started, rush.gave_up, rush.start_failed, rush.lost, rush.workflow_failed) == (2000, 0, 0, 0, 0)
    assert rush.p95_to_watch_seconds >= policies.orphan_grace > rush.p95_to_start_seconds


def test_a_reservation_for_the_polls_caps_them_and_keeps_the_rest_for_the_presses() -> None:
    # Given an account of 1,000 executions whose poll function reserves 600
    plane = AwsPlane(Quotas.default("eu-central-1", reserved={"PollUpdateStatus": 600}))
    # When 900 polls ask at once, then 500 presses
    polls = plane.invoke(POLL, 0.0, 900)
    presses = plane.invoke(TRIGGER, 0.0, 500)
    # Then the polls got their 600 and no more, and the presses the 400 the reservation left, not what the polls hold
    assert (polls, presses) == (600, 400)
    assert plane.concurrency_limit == 1000 and plane.peak_concurrency == 1000
    # And a poll that ends frees a place for a poll, not for a press
    plane.release(POLL, 100)
    assert (plane.invoke(TRIGGER, 1.0, 1), plane.invoke(POLL, 1.0, 100)) == (0, 100)


def test_a_start_quota_is_spent_once_per_update_whether_its_message_or_the_reconciler_starts_it(
    policies: Policies, scheduled: UpdateProfile
) -> None:
    # Given 10 connections due at once and a StartExecution bucket of 3 that refills 3 every five minutes: the first
    # batch starts 3, the reconciler's runs start some of the others, and their messages come back after the
    # visibility timeout, when some of them have been started and have ended
    quotas = Quotas.default("eu-central-1", function_limits={"StartScheduledUpdate": 1}).with_overrides(
        stepfunctions__StartExecution__standard=(3, 0.01)
    )
    sim = Simulation(quotas, policies, seed=22, tick=1.0)
    sim.reconciler.phase = 0.0
    path = ScheduledPath(sim, scheduled, [0.0] * 10, Pacing.of(10, "rate(15 minutes)"), 1, horizon=43_200)
    # When the night is simulated
    path.begin()
    sim.run(until=43_200)
    # Then every update started once, and each start took one token: a message finding its update ended made no
    # StartExecution (the record is terminal), and the reconciler left alone an update its message had started
    taken = sum(n for (key, _), n in sim.aws.taken.items() if key == START)
    assert (len(sim.tally.started), sum(path.started)) == (10, 10)
    assert taken == 10
    assert sim.tally.duplicates > 0  # (some messages did come back to an update the reconciler had started)


def test_starts_refused_for_rate_come_back_spread_and_start_before_the_visibility_timeout(
    policies: Policies, scheduled: UpdateProfile
) -> None:
    # Given 150 connections due at once and a StartExecution bucket of 5 that refills 0.6 a second (the throttled
    # check's): most of the first batches are refused
    quotas = Quotas.default("eu-central-1").with_overrides(stepfunctions__StartExecution__standard=(5, 0.6))

    def night(retry: ThrottledRetry | None) -> Outcome:
        return predict_night(
            [0.0] * 150,
            quotas,
            scheduled,
            replace(policies, throttled_retry=retry),
            starts_per_second=5,
            max_concurrency=6,
            horizon=1_800,
            reconcile_phase=math.inf,
        )

    # When the refused starts come back as the start function brings them back (D39), and as the queue alone would
    spread, queued = night(policies.throttled_retry), night(None)
    # Then brought back and spread, every one started before the queue's visibility timeout would have brought the
    # first refused one back; left to the queue, they came back in waves and half an hour did not start them all
    assert policies.throttled_retry is not None
    assert spread.started == 150 and spread.completion_seconds < policies.visibility_timeout
    assert queued.started < 150 and queued.completion_seconds >= policies.visibility_timeout
    assert (spread.lost, spread.double_budget) == (0, 0)
