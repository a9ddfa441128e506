"""Durations that must fit into one another, checked from the real values: each function's ``Timeout`` and
environment in ``template.yaml``, ``settings.py``'s defaults under that environment, and the Retry policies of the
ASL files that deploy. What ``test_timing.py`` checks inside one function (its finAPI waits under its timeout), this
checks between the parts: a poll loop and Express's five minutes, the Poll task's heartbeat and the loop's silences,
a wait for the user and the answer route, leases and the work they cover, the queue and its consumer.

A change of any one number (a function's timeout, a retry policy, a setting's default) that breaks a relation fails
here, before AWS finds it; ``tests/workflow/test_production_timing.py`` runs the same numbers, scaled, end to end.
"""

from __future__ import annotations

import json
from typing import Any

from bankupdate.domain.pacing import run_period_seconds
from bankupdate.settings import FINALIZE_RETRY_SECONDS, Settings
from bankupdate.usecases.collect_credentials import CLAIM_LEASE
from bankupdate.usecases.reconcile_stale_updates import SWEEP_RESERVE_SECONDS
from tests.template.reachable import ROOT, FunctionReach, planned, reachable
from tests.template.test_timing import worst_case

EXPRESS_MAX_SECONDS = 300  # "Quotas": an Express execution runs at most five minutes
SQS_VISIBILITY_FACTOR = 6  # "Using Lambda with Amazon SQS": visibility timeout at least six times the function's
WORKFLOW_START = "bankupdate.stores.workflow.StepFunctionsWorkflow.start"


def _asl(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((ROOT / "statemachines" / f"{name}.asl.json").read_text())
    return loaded


def _lambda_retry(state: dict[str, Any], error: str = "Sandbox.Timedout") -> tuple[int, float]:
    """Attempts and the longest total delay between them of a Task's Retry on one of Lambda's errors (full jitter
    waits at most the computed interval, capped by MaxDelaySeconds)."""
    retrier = next(r for r in state["Retry"] if error in r["ErrorEquals"] or "States.ALL" in r["ErrorEquals"])
    retries, interval = int(retrier["MaxAttempts"]), float(retrier.get("IntervalSeconds", 1))
    rate, cap = float(retrier.get("BackoffRate", 2.0)), float(retrier.get("MaxDelaySeconds", 1e9))
    return 1 + retries, sum(min(interval * rate**k, cap) for k in range(retries))


def _function(logical_id: str) -> FunctionReach:
    return reachable()[logical_id]


def _settings(logical_id: str) -> Settings:
    return _function(logical_id).settings


def _timeout(logical_id: str) -> int:
    return planned().functions[logical_id].timeout


def _poll_seconds() -> float:
    """The longest one Poll state of the loop takes: every attempt at PollUpdateStatus's timeout, and the delays."""
    attempts, delays = _lambda_retry(_asl("poll_loop")["States"]["Poll"])
    return attempts * _timeout("PollUpdateStatusFunction") + delays


def _starters() -> dict[str, Settings]:
    """The functions that start update workflows: they compute the waits the workflow's input carries."""
    found = {k: f.settings for k, f in reachable().items() if WORKFLOW_START in f.reach.functions}
    assert {"TriggerUpdateFunction", "StartScheduledUpdateFunction", "ReconcileStaleUpdatesFunction"} <= set(found)
    return found


def test_a_poll_loop_hands_on_before_a_poll_could_run_past_expresss_five_minutes() -> None:
    # Given the poll function's settings, its timeout and the loop's retry policy
    poll = _settings("PollUpdateStatusFunction")
    # Then a loop lives at most Express's five minutes, and the reserve it keeps for one more poll holds every attempt
    assert poll.poll_loop_max_seconds <= EXPRESS_MAX_SECONDS
    assert poll.poll_reserve_seconds >= _poll_seconds(), (poll.poll_reserve_seconds, _poll_seconds())


def _hand_on_seconds() -> float:
    """The longest the loop's Continue (StartExecution of the fresh loop) delays between its attempts."""
    _, delays = _lambda_retry(_asl("poll_loop")["States"]["Continue"], "StepFunctions.ThrottlingException")
    return delays


def test_the_poll_tasks_heartbeat_outlasts_the_longest_silence_of_a_live_loop() -> None:
    # Given the heartbeat each starter puts into the workflow's input, and the loop as the poll function runs it: a
    # loop signs once its silence plus its next gap would reach the sign-of-life mark (D36), so the longest it is
    # silent is the mark, then the poll after that gap with every attempt (or a hand-on to a fresh loop and its poll)
    poll = _settings("PollUpdateStatusFunction")
    longest_gap = min(poll.poll_max_gap_seconds, poll.hand_over_gap_seconds)
    silence = poll.poll_sign_of_life_seconds + _hand_on_seconds() + _poll_seconds()
    for name, starter in _starters().items():
        heartbeat = starter.poll_heartbeat_seconds
        # Then the task hears from a live loop before its heartbeat runs out, with the grace left for the sign
        assert heartbeat - starter.heartbeat_grace_seconds >= silence, (name, heartbeat, silence)
        # And a loop does not sign at every poll: the mark lies beyond the longest gap and a poll
        assert poll.poll_sign_of_life_seconds >= longest_gap + poll.poll_reserve_seconds, name


def test_a_poll_lambda_refuses_cools_down_and_polls_again_before_the_poll_tasks_heartbeat_runs_out() -> None:
    # Given the loop's Retry on Lambda's refusal (the function never runs: delays only) and its cool-down
    poll_state = _asl("poll_loop")["States"]["Poll"]
    _, refused_for = _lambda_retry(poll_state, "Lambda.TooManyRequestsException")
    catch = next(c for c in poll_state["Catch"] if c["ErrorEquals"] == ["Lambda.TooManyRequestsException"])
    cool_down = _asl("poll_loop")["States"][catch["Next"]]
    assert (cool_down["InputPath"], cool_down["ResultPath"]) == ("$.coolDownSeconds", "$.gapSeconds")
    assert cool_down["Next"] == "Continue"
    # (the gap is the workflow input's, from the settings of the function that started the update)
    loop_input = _asl("update_connection")["States"]["Poll"]["Parameters"]["Input"]
    assert loop_input["coolDownSeconds.$"] == "$.pollCoolDownSeconds"
    gap = max(starter.poll_cool_down_seconds for starter in _starters().values())
    # Then the silence the poll function allows for a cool-down holds the refused attempts, the hand-on and the
    # cool-down's gap, so a refused poll that comes just before the sign-of-life mark is followed by a poll (every
    # attempt) and its sign before the heartbeat runs out: one cool-down never reads as a silent loop
    poll = _settings("PollUpdateStatusFunction")
    after_refusal = refused_for + _hand_on_seconds() + gap
    assert poll.poll_cool_down_silence_seconds >= after_refusal, (poll.poll_cool_down_silence_seconds, after_refusal)
    silence = poll.poll_sign_of_life_seconds + after_refusal + _poll_seconds()
    for name, starter in _starters().items():
        heartbeat = starter.poll_heartbeat_seconds
        assert heartbeat - starter.heartbeat_grace_seconds >= silence, (name, heartbeat, silence)


def test_a_wait_for_the_user_outlasts_an_answer_in_flight_and_a_round_is_claimed_as_long() -> None:
    # Given the answer route's timeout (it keeps the wait alive, then calls finAPI)
    answer = _timeout("CollectCredentialsFunction")
    # Then the wait for the user (heartbeat: the answer window and a grace) never runs out while an answer is on its
    # way, and the claim of a round lasts as long as the answer that holds it may run
    for name, starter in _starters().items():
        assert starter.heartbeat_seconds > answer, name
    assert CLAIM_LEASE.total_seconds() >= answer


def test_a_connection_lock_outlasts_the_update_and_every_finalize_attempt() -> None:
    # Given Finalize's retry policy and timeout, and the update's own bound
    attempts, delays = _lambda_retry(_asl("update_connection")["States"]["Finalize"])
    finalize = attempts * _timeout("FinalizeFunction") + delays
    # Then the lock is never free while the update's workflow may still finish it
    assert finalize <= FINALIZE_RETRY_SECONDS
    for name, starter in _starters().items():
        assert starter.lock_lease_seconds >= starter.update_timeout_seconds + finalize, name


def test_a_due_connection_comes_back_only_after_its_start_had_all_its_time() -> None:
    # Given the schedule queue and the function that consumes it
    queue = planned().active["ScheduleQueue"]["Properties"]
    timeout = _timeout("StartScheduledUpdateFunction")
    start = _settings("StartScheduledUpdateFunction")
    # Then a batch retried after throttling does not become visible while the first try runs, and a start is begun
    # only with the time one start may take (a batch's starts run one after another)
    assert int(queue["VisibilityTimeout"]) >= SQS_VISIBILITY_FACTOR * timeout
    assert worst_case(_function("StartScheduledUpdateFunction")) <= start.start_reserve_seconds < timeout


def test_a_start_refused_for_rate_comes_back_sooner_and_is_dead_lettered_only_after_a_reconciler_run() -> None:
    # Given the schedule queue, the start function's retry of a start refused for rate (D39) and the reconciler's
    # schedule and grace
    queue = planned().active["ScheduleQueue"]["Properties"]
    retry = _settings("StartScheduledUpdateFunction").throttled_retry
    schedule = planned().active["ReconcileStaleUpdatesFunctionReconciler"]["Properties"]  # SAM's AWS::Scheduler
    period = run_period_seconds(schedule["ScheduleExpression"])
    grace = _settings("ReconcileStaleUpdatesFunction").orphan_grace_seconds
    # Then the message never comes back later than the queue would have brought it back
    assert retry.max_seconds <= int(queue["VisibilityTimeout"])
    # And refused at every receive, it reaches the dead-letter queue only after the reconciler has had a run at its
    # update (open past the grace): a throttle the reconciler outlasts does not page the operator
    assert period is not None
    assert retry.least_span(int(queue["RedrivePolicy"]["maxReceiveCount"])) >= grace + period


def test_the_reconcilers_sweep_stops_with_time_for_one_more_update_and_the_failed_workflow_sweep() -> None:
    # Given the reconciler's timeout and the reserve its open-update sweep leaves (D33)
    timeout = _timeout("ReconcileStaleUpdatesFunction")
    # Then an update begun just before the sweep stops, and the failed-workflow sweep after it (one run's longest
    # path, each loop once), end before Lambda's timeout cuts the run short
    assert worst_case(_function("ReconcileStaleUpdatesFunction")) <= SWEEP_RESERVE_SECONDS < timeout
