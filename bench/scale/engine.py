"""A discrete-event simulation of many updates through AWS's quotas, with the retries the code does.

Starts are simulated one by one (each press or due connection: its latency is reported); what an update does after
its start (poll loops, polls, SendTask*, events) is simulated per cohort of updates started in the same tick, at the
offsets the local stack measured (``profile.py``). A refused call is retried as the code retries it
(``policies.py``); jitter is drawn per call for starts and per cohort for a workflow's calls.
"""

from __future__ import annotations

import heapq
import itertools
import math
import random
from collections.abc import Callable
from dataclasses import dataclass, field

from bench.scale.plane import AwsPlane
from bench.scale.policies import Policies, Retry
from bench.scale.profile import UpdateProfile
from bench.scale.reconciler import ReconcilerModel
from local_stack.quotas import Quotas

TRIGGER, START, POLL, QUERY = "TriggerUpdate", "StartScheduledUpdate", "PollUpdateStatus", "Query"
SHARDS = 4  # SCHEDULE_SHARDS: the gsi1 ACTIVE#/DUE# partitions a burst of writes spreads over


@dataclass
class RetryQuota:
    """botocore standard mode's retry quota (retries/quota.py, standard.py RetryQuotaChecker): 500 units, a retry
    after a throttle takes 5, a success without a retry gives 1 back, a success after one gives its 5 back."""

    capacity: int = 500
    available: int = 500
    cost: int = 5

    def acquire(self) -> bool:
        if self.available < self.cost:
            return False
        self.available -= self.cost
        return True

    def succeeded(self, *, retried: bool) -> None:
        self.available = min(self.capacity, self.available + (self.cost if retried else 1))


@dataclass
class Tally:
    # seconds from press (or due) to the update's start: a scheduled update's execution; a press's 202 (finAPI has the
    # update; its workflow runs, or the reconciler starts it: D33)
    started: list[float] = field(default_factory=list)
    watched: list[float] = field(default_factory=list)  # a press: seconds to its workflow's start
    deferred: int = 0  # presses answered 202 whose StartExecution was refused past botocore's retries
    last_started: float = 0.0
    last_finished: float = 0.0
    finished: int = 0
    answered_retryable: int = 0  # presses answered 429/5xx at least once (API Gateway's: no Retry-After)
    gave_up: int = 0  # presses still refused after the app's last retry (each answered retryably)
    start_failed: int = 0  # a start refused for good where nothing takes it over (none since D33)
    workflow_failed: int = 0  # a loop start or a poll refused past the ASL's retries: Catch -> Finalize, FAILED
    redelivered: int = 0  # scheduled messages back on the queue after the visibility timeout
    postponed: int = 0  # of them: starts not begun for want of the invocation's time (StartPostponed)
    duplicates: int = 0  # deliveries that found their slot claimed (no second finAPI call, no second budget unit)
    dead_lettered: int = 0  # scheduled messages past maxReceiveCount: lost unless an operator redrives them
    budget_spent: int = 0  # units of the bank's daily budget (one per slot: the claim comes first)


class Simulation:
    def __init__(self, quotas: Quotas, policies: Policies, seed: int = 22, tick: float = 0.2) -> None:
        self.aws = AwsPlane(quotas)
        self.policies = policies
        self.rng = random.Random(seed)
        self.tick = tick
        self.tally = Tally()
        self._events: list[tuple[float, int, Callable[[float], None]]] = []
        self._order = itertools.count()
        self._cohorts: dict[tuple[int, bool, str], tuple[int, UpdateProfile]] = {}
        self.now = 0.0
        # botocore's retry quota, when one client makes every call of ``call`` (the local stack's functions share
        # their clients in one process; in AWS each execution environment has its own, and the scenarios leave it out)
        self.retry_quota: RetryQuota | None = None
        # (its own draw: the other calls' jitter stays as it was without it)
        self.reconciler = ReconcilerModel(self, phase=random.Random(seed + 1).uniform(0, policies.reconcile_period))

    # -- the event loop -------------------------------------------------------------------------------------------
    def at(self, when: float, action: Callable[[float], None]) -> None:
        heapq.heappush(self._events, (when, next(self._order), action))

    def run(self, until: float = math.inf) -> None:
        """The events before ``until`` (a real run's figures end at its deadline: what happens at it is not in them)."""
        while self._events and self._events[0][0] < until:
            when, _, action = heapq.heappop(self._events)
            self.now = when
            action(when)

    def call(
        self, key: str, when: float, retry: Retry, done: Callable[[float], None], gave_up: Callable[[float], None]
    ) -> None:
        """One AWS call under quota ``key``, retried as ``retry`` says."""

        quota = self.retry_quota

        def attempt(now: float, tries: int) -> None:
            if self.aws.take(key, now):
                if tries:
                    self.aws.absorbed[key] += 1
                if quota is not None:
                    quota.succeeded(retried=tries > 0)
                done(now)
            elif tries < retry.retries and (quota is None or quota.acquire()):
                self.at(now + retry.delay(tries + 1, self.rng), lambda t: attempt(t, tries + 1))
            else:
                self.aws.failed[key] += 1
                gave_up(now)

        attempt(when, 0)

    # -- after an update's start: its workflow, per cohort ---------------------------------------------------------
    def workflow(self, profile: UpdateProfile, started: float, n: int, user_present: bool) -> None:
        aws = self.aws
        for _ in range(profile.transitions):
            aws.take_up_to("stepfunctions.StateTransition.standard", started, n)  # held back, not refused
        for offset in profile.loop_offsets:
            self.at(started + offset, lambda t: self._cohort_call("stepfunctions.StartExecution.express", t, n, 0))
        for offset in profile.poll_offsets:
            self.at(started + offset, lambda t: self._cohort_polls(t, n, 0, profile.poll_seconds))
        if user_present:
            for when in (started + 1.0, started + profile.end_seconds):
                self.at(when, lambda t: self._queries(t, max(1, round(n * profile.query_invocations / 2)), profile))
        end = started + profile.end_seconds
        for key, per_update in (
            ("stepfunctions.SendTaskSuccess", profile.send_task_success),
            ("stepfunctions.SendTaskFailure", profile.send_task_failure),
            ("stepfunctions.SendTaskHeartbeat", profile.send_task_heartbeat),
            ("events.PutEvents", profile.put_events),
            ("kms.symmetric", profile.kms_calls),
        ):
            if per_update:
                self._at_end(end, key, round(n * per_update))
        index_writes = round(n * profile.index_writes / SHARDS)  # one shard's share of the gsi1 writes
        self.at(started, lambda t: self._side_calls("dynamodb.partition.write", t, index_writes))
        self.at(end, lambda t: self._finish(t, n))

    def _at_end(self, end: float, key: str, count: int) -> None:
        self.at(end, lambda t: self._side_calls(key, t, count))

    def _finish(self, now: float, n: int) -> None:
        self.tally.finished += n
        self.tally.last_finished = max(self.tally.last_finished, now)

    def _side_calls(self, key: str, now: float, count: int, tries: int = 0) -> None:
        """Calls whose retries do not move the update (SDK calls at its end): counted, retried by botocore."""
        if count <= 0:
            return
        granted = self.aws.take_up_to(key, now, count)
        if tries and granted:
            self.aws.absorbed[key] += granted
        left = count - granted
        if left and tries < self.policies.sdk.retries:
            self.at(
                now + self.policies.sdk.delay(tries + 1, self.rng), lambda t: self._side_calls(key, t, left, tries + 1)
            )
        elif left:
            self.aws.failed[key] += left

    def _cohort_call(self, key: str, now: float, n: int, tries: int) -> None:
        granted = self.aws.take_up_to(key, now, n)
        if tries and granted:
            self.aws.absorbed[key] += granted
        left, retry = n - granted, self.policies.express_start
        if left and tries < retry.retries:
            self.at(now + retry.delay(tries + 1, self.rng), lambda t: self._cohort_call(key, t, left, tries + 1))
        elif left:
            self.aws.failed[key] += left
            self.tally.workflow_failed += left

    def _cohort_polls(self, now: float, n: int, tries: int, seconds: float, refused_since: float | None = None) -> None:
        """Polls of a cohort. Refused past the loop's Retry, a poll cools down and a fresh loop polls again (the
        loop's CoolDown and Continue); refused for longer than the Poll task's heartbeat, its loop reads as silent and
        the update fails (the heartbeat's one replacement loop is not modelled)."""
        granted = self.aws.invoke(POLL, now, n)
        if granted:
            self.at(now + seconds, lambda t: self.aws.release(POLL, granted))
            if tries or refused_since is not None:
                self.aws.absorbed["lambda.concurrency"] += granted
        left, retry = n - granted, self.policies.poll_invoke
        since = now if refused_since is None else refused_since
        if left and tries < retry.retries:
            self.at(
                now + retry.delay(tries + 1, self.rng),
                lambda t: self._cohort_polls(t, left, tries + 1, seconds, refused_since),
            )
        elif left and now + self.policies.poll_cool_down - since < self.policies.poll_silence_limit:
            self._cohort_call("stepfunctions.StartExecution.express", now, left, 0)
            self.at(now + self.policies.poll_cool_down, lambda t: self._cohort_polls(t, left, 0, seconds, since))
        elif left:
            self.aws.failed["lambda.concurrency"] += left
            self.tally.workflow_failed += left

    def _queries(self, now: float, n: int, profile: UpdateProfile) -> None:
        """The app reading the update: API Gateway, then QueryFunction (a refused read is just read again later)."""
        served = min(self.aws.take_up_to("apigateway.account", now, n), self.aws.take_up_to("apigateway.stage", now, n))
        granted = self.aws.invoke(QUERY, now, served)
        if granted:
            self.at(now + profile.query_seconds, lambda t: self.aws.release(QUERY, granted))

    # -- the user-present path: a press, the HTTP API, TriggerUpdate, StartExecution --------------------------------
    def press(self, pressed: float, profile: UpdateProfile) -> None:
        self.at(pressed, lambda t: self._try_trigger(t, pressed, profile, 0))

    def _try_trigger(self, now: float, pressed: float, profile: UpdateProfile, tries: int) -> None:
        aws = self.aws
        through_gateway = aws.take("apigateway.account", now) and aws.take("apigateway.stage", now)
        if through_gateway and aws.invoke(TRIGGER, now, 1):
            if tries:
                aws.absorbed["apigateway/lambda (app retried)"] += 1
            self.at(now + profile.start_seconds, lambda t: self._start_execution(t, pressed, profile, TRIGGER))
            return
        if tries == 0:
            self.tally.answered_retryable += 1
        retry = self.policies.api_retry
        if tries < retry.retries:
            self.at(now + retry.delay(tries + 1, self.rng), lambda t: self._try_trigger(t, pressed, profile, tries + 1))
        else:
            self.tally.gave_up += 1

    def _start_execution(self, now: float, due: float, profile: UpdateProfile, function: str) -> None:
        def started(t: float) -> None:
            self.aws.release(function, 1)
            self._started(t, due, profile, user_present=True)

        def refused(t: float) -> None:  # D33: the caller gets 202, the reconciler starts the workflow
            self.aws.release(function, 1)
            self._count_start(t, due)
            self.tally.deferred += 1
            self.reconciler.defer(t, due, profile)

        self.call("stepfunctions.StartExecution.standard", now, self.policies.trigger_start, started, refused)

    def _count_start(self, now: float, due: float) -> None:
        self.tally.started.append(now - due)
        self.tally.last_started = max(self.tally.last_started, now)

    def _started(self, now: float, due: float, profile: UpdateProfile, user_present: bool) -> None:
        self._count_start(now, due)
        if user_present:
            self.watched(now, due, profile)
        else:
            self._supervise(now, profile, user_present=False)

    def watched(self, now: float, due: float, profile: UpdateProfile) -> None:
        """A press's workflow starts: at once, or by the reconciler."""
        self.tally.watched.append(now - due)
        self.reconciler.supervised(now, now + profile.end_seconds)
        self._supervise(now, profile, user_present=True)

    def _supervise(self, now: float, profile: UpdateProfile, user_present: bool) -> None:
        cohort = math.floor(now / self.tick)
        key = (cohort, user_present, profile.flow)
        count, _ = self._cohorts.get(key, (0, profile))
        if count == 0:
            self.at((cohort + 1) * self.tick, lambda t: self._launch(key))
        self._cohorts[key] = (count + 1, profile)

    def _launch(self, key: tuple[int, bool, str]) -> None:
        count, profile = self._cohorts.pop(key)
        self.workflow(profile, key[0] * self.tick, count, user_present=key[1])
