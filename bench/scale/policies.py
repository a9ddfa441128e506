"""How the code absorbs a refused call, read from where it is decided: botocore's retry mode (stores/aws.py), the
state machines' Retry policies (statemachines/*.asl.json), the schedule queue, its event source and the start
function's return of a start refused for rate (template.yaml, D39).

A retry policy yields the delays before each retry; a call refused after the last one has failed for good.
"""

from __future__ import annotations

import json
import math
import random
import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import yaml

from bankupdate.domain.pacing import run_period_seconds
from bankupdate.domain.redelivery import ThrottledRetry
from bankupdate.usecases.reconcile_stale_updates import SWEEP_RESERVE_SECONDS

ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Retry:
    """Delays before each retry: ``interval × backoff^k`` capped, with full jitter (uniform below it) if set."""

    retries: int
    interval: float
    backoff: float
    max_delay: float
    full_jitter: bool

    def delay(self, retry: int, rng: random.Random) -> float:
        ceiling = min(self.max_delay, self.interval * self.backoff ** (retry - 1))
        return rng.uniform(0, ceiling) if self.full_jitter else ceiling


@dataclass(frozen=True)
class Policies:
    sdk: Retry  # any AWS SDK call of a function (botocore "standard": 3 attempts, 2^(n-1) s full jitter, at most 20)
    trigger_start: Retry  # the trigger's StartExecution: one attempt, a throttle defers it to the reconciler (D35)
    express_start: Retry  # the Poll task's StartExecution of a poll loop (its ASL Retry)
    poll_invoke: Retry  # the poll loop's Lambda invoke of PollUpdateStatus (its ASL Retry)
    poll_cool_down: float  # a poll Lambda refused past that Retry: a fresh loop polls again after this (CoolDown)
    poll_silence_limit: float  # the Poll task's heartbeat: a loop refused for longer reads as silent
    visibility_timeout: float  # a scheduled batch that failed comes back after this
    max_receives: int  # then the dead-letter queue
    batch_size: int
    start_concurrency: int  # ScheduledStartConcurrency's default
    starts_per_second: float  # ScheduledStartsPerSecond's default
    api_retry: Retry  # the app's retries after a 429/5xx (ours carries Retry-After; API Gateway's does not)
    reconcile_period: float  # the stale-update reconciler's schedule
    orphan_grace: float  # it leaves an open update younger than this alone
    reconcile_sweep_seconds: float  # its function's timeout less the sweep's reserve
    start_timeout: float = math.inf  # StartScheduledUpdate's timeout
    start_reserve: float = 0.0  # a start is begun only with this much of the invocation left (START_RESERVE_SECONDS)
    # A start refused for rate: its message comes back after this retry's delay (D39); None: after the visibility
    # timeout, as before it
    throttled_retry: ThrottledRetry | None = None


def _asl_retry(path: Path, state: str, error: str) -> Retry:
    states = json.loads(path.read_text())["States"]
    for rule in states[state]["Retry"]:
        if error in rule["ErrorEquals"]:
            return Retry(
                retries=int(rule["MaxAttempts"]),
                interval=float(rule.get("IntervalSeconds", 1)),
                backoff=float(rule.get("BackoffRate", 2)),
                max_delay=float(rule.get("MaxDelaySeconds", 3600)),
                full_jitter=rule.get("JitterStrategy") == "FULL",
            )
    raise LookupError(f"{path.name} {state} does not retry {error}")


def _cool_down(path: Path) -> float:
    """The gap a poll Lambda refused past its Retry waits before a fresh loop polls again (the Catch's Pass state
    sets it from the loop's state, which carries the starters' ``POLL_COOL_DOWN_SECONDS``)."""
    states = json.loads(path.read_text())["States"]
    catch = next(c for c in states["Poll"]["Catch"] if c["ErrorEquals"] == ["Lambda.TooManyRequestsException"])
    cool_down = states[catch["Next"]]
    if (cool_down.get("InputPath"), cool_down.get("ResultPath")) != ("$.coolDownSeconds", "$.gapSeconds"):
        raise LookupError(f"{path.name} {catch['Next']} no longer sets the fresh loop's gap from its state")
    return float(_settings_defaults().poll_cool_down_seconds)


def _settings_defaults() -> Any:
    """The settings as the starters run them (the template sets none of the Poll task's heartbeat inputs for them);
    the names of the resources do not matter here."""
    from bankupdate.settings import Settings

    names = {"TABLE_NAME": "-", "EVENT_BUS_NAME": "-", "FINAPI_BASE_URL": "https://sandbox.finapi.io"}
    return Settings.model_validate(names | {"STATE_MACHINE_ARN": "arn:aws:states:eu-central-1:0:stateMachine:-"})


class _CfnLoader(yaml.SafeLoader):
    """YAML with CloudFormation's short tags kept as their plain value (enough to read literal settings)."""


_CfnLoader.add_multi_constructor("!", lambda loader, suffix, node: None)


def _template() -> dict[str, Any]:
    loaded = yaml.load((ROOT / "template.yaml").read_text(), Loader=_CfnLoader)  # noqa: S506 - SafeLoader subclass
    assert isinstance(loaded, dict)
    return loaded


def _sdk_retry() -> Retry:
    source = (ROOT / "layers/core/bankupdate/stores/aws.py").read_text()
    found = re.search(r"^_ATTEMPTS = (\d+)", source, re.MULTILINE)
    standard = '{"mode": "standard", "total_max_attempts": attempts}' in source
    if found is None or not standard or "def client(service: str, attempts: int = _ATTEMPTS)" not in source:
        raise LookupError("stores/aws.py no longer configures botocore's standard retry mode")
    # botocore's standard mode after a throttling error (retries/standard.py ExponentialBackoff): the n-th retry waits
    # uniform(0, 1) x min(2^(n-1), 20) seconds. Not modelled: its retry quota (500 per client, 5 a retry).
    return Retry(retries=int(found.group(1)) - 1, interval=1, backoff=2, max_delay=20, full_jitter=True)


def _trigger_start_retry(sdk: Retry) -> Retry:
    """The trigger's workflow start: one attempt if it asks for one (D35), else the SDK's retries."""
    adapter = (ROOT / "layers/core/bankupdate/stores/workflow.py").read_text()
    trigger = (ROOT / "layers/core/bankupdate/usecases/trigger_update.py").read_text()
    once = re.search(r'_sfn_once = ServiceClient\("stepfunctions", attempts=(\d+)\)', adapter)
    if once is None or "retry_throttles=False" not in trigger:
        return sdk
    return replace(sdk, retries=int(once.group(1)) - 1)


def _period(schedule_expression: str) -> float:
    period = run_period_seconds(schedule_expression)
    if period is None:
        raise LookupError(f"the reconciler's schedule is not a rate: {schedule_expression}")
    return float(period)


def load_policies() -> Policies:
    template = _template()
    resources, parameters = template["Resources"], template["Parameters"]
    queue = resources["ScheduleQueue"]["Properties"]
    mapping = resources["StartScheduledUpdateFunctionDueConnections"]["Properties"]
    reconciler = resources["ReconcileStaleUpdatesFunction"]["Properties"]
    starter = resources["StartScheduledUpdateFunction"]["Properties"]
    machines = ROOT / "statemachines"
    return Policies(
        sdk=_sdk_retry(),
        trigger_start=_trigger_start_retry(_sdk_retry()),
        express_start=_asl_retry(machines / "update_connection.asl.json", "Poll", "StepFunctions.ThrottlingException"),
        poll_invoke=_asl_retry(machines / "poll_loop.asl.json", "Poll", "Lambda.TooManyRequestsException"),
        poll_cool_down=_cool_down(machines / "poll_loop.asl.json"),
        poll_silence_limit=float(_settings_defaults().poll_heartbeat_seconds),
        visibility_timeout=float(queue["VisibilityTimeout"]),
        max_receives=int(queue["RedrivePolicy"]["maxReceiveCount"]),
        batch_size=int(mapping["BatchSize"]),
        start_concurrency=int(parameters["ScheduledStartConcurrency"]["Default"]),
        starts_per_second=float(parameters["ScheduledStartsPerSecond"]["Default"]),
        # A well-behaved app: wait Retry-After (1 s) or 1, 2, 4 s with jitter when there is none, five tries.
        api_retry=Retry(retries=4, interval=1, backoff=2, max_delay=8, full_jitter=True),
        reconcile_period=_period(reconciler["Events"]["Reconciler"]["Properties"]["ScheduleExpression"]),
        orphan_grace=float(_settings_defaults().orphan_grace_seconds),
        reconcile_sweep_seconds=float(reconciler["Timeout"]) - SWEEP_RESERVE_SECONDS,
        start_timeout=float(starter["Timeout"]),
        start_reserve=float(starter["Environment"]["Variables"]["START_RESERVE_SECONDS"]),
        throttled_retry=ThrottledRetry(
            int(starter["Environment"]["Variables"]["THROTTLED_START_RETRY_SECONDS"]),
            int(starter["Environment"]["Variables"]["THROTTLED_START_RETRY_MAX_SECONDS"]),
        ),
    )
