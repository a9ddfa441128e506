"""A real run of the scheduled path on the local stack, through one quota the machine can reach: the measured side of
the simulation's check (``validate.py``).

Every connection is due at once; one scheduler run queues them at ``ScheduledStartsPerSecond`` (SQS delays), the
local stack's event source mapping hands them to StartScheduledUpdate (``ScheduledStartConcurrency`` at once), which
calls the finAPI sandbox and starts each update's workflow in moto. AWS's StartExecution quota (800 tokens, 150 a
second) is out of this machine's reach, so the run scales the bucket down to where it binds; ``StartGate`` refuses a
start the bucket has no token for with the answer AWS gives (HTTP 400 ``ThrottlingException``) before it reaches moto,
at botocore's HTTP send: botocore's standard retry mode, the function's batch-item failure and the queue's visibility
timeout then handle it exactly as they would AWS's. (Issue 22 items 1-2 put the quotas into the local stack itself;
this gate is the bench's own, on one call, so the check does not wait for them.)
"""

from __future__ import annotations

import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import Any
from unittest import mock

import botocore.endpoint
import httpx
from aws_lambda_powertools.utilities.batch import BatchProcessor
from botocore.awsrequest import AWSResponse

from bankupdate.domain.redelivery import ThrottledRetry
from bench.harness import ADMIN_TIMEOUT_SECONDS, BankUser, running_system
from bench.scale.policies import load_policies
from bench.scale.scheduled import RUN_EVERY
from local_stack.event_sources import QueuePollers
from local_stack.lambdas import LocalFunction
from local_stack.quotas import TokenBucket

START_FUNCTION = "StartScheduledUpdateFunction"
RECONCILER = "ReconcileStaleUpdatesFunctionReconciler"
_THROTTLED = json.dumps({"__type": "ThrottlingException", "message": "Rate exceeded"}).encode()


class _Body:
    def __init__(self, content: bytes) -> None:
        self._content = content

    def stream(self) -> list[bytes]:
        return [self._content]


@dataclass
class StartGate:
    """StartExecution of the update workflow (not the Express poll loops) through ``bucket`` on the wall clock."""

    bucket: TokenBucket
    machine_arn: str
    refused_at: list[float] = field(default_factory=list)
    refused_in: dict[int, int] = field(default_factory=dict)  # refusals per thread (an invocation runs in one)
    started_at: dict[str, float] = field(default_factory=dict)  # execution name -> its first successful start
    lock: threading.Lock = field(default_factory=threading.Lock)

    def patch(self) -> Any:
        send = botocore.endpoint.Endpoint._send
        gate = self

        def gated(endpoint: Any, request: Any) -> Any:
            name = gate._start_of(request)
            if name is None:
                return send(endpoint, request)
            with gate.lock:
                allowed = gate.bucket.take(time.monotonic())
                if not allowed:
                    gate.refused_at.append(time.monotonic())
                    thread = threading.get_ident()
                    gate.refused_in[thread] = gate.refused_in.get(thread, 0) + 1
            if not allowed:
                headers = {"content-type": "application/x-amz-json-1.0", "x-amzn-errortype": "ThrottlingException"}
                return AWSResponse(request.url, 400, headers, _Body(_THROTTLED))
            answer = send(endpoint, request)
            if answer.status_code == 200:
                with gate.lock:
                    gate.started_at.setdefault(name, time.monotonic())
            return answer

        return mock.patch.object(botocore.endpoint.Endpoint, "_send", gated)

    def _start_of(self, request: Any) -> str | None:
        """The execution's name if ``request`` starts one of the update workflow."""
        target = request.headers.get("X-Amz-Target", b"")
        if (target.decode() if isinstance(target, bytes) else target) != "AWSStepFunctions.StartExecution":
            return None
        body = json.loads(request.body or b"{}")
        return str(body.get("name", "")) if body.get("stateMachineArn") == self.machine_arn else None


@dataclass
class StartTimes:
    """StartScheduledUpdate's invocations: wall time and messages, those that met no throttle apart (a throttled one
    also holds botocore's retry delays, which the simulation adds by itself): this run's time per start."""

    gate: StartGate
    seconds: float = 0.0
    messages: int = 0
    invocations: int = 0
    clean_seconds: float = 0.0
    clean_messages: int = 0
    failed_messages: int = 0
    delivery_seconds: float = 0.0
    retry_delays: float = 0.0  # what botocore slept before its retries, within these invocations
    slept_in: dict[int, float] = field(default_factory=dict)  # per thread
    # Each invocation: when it began (seconds from ``origin``, the scheduler's run) and its seconds per message it
    # started, retry delays left out. The simulation replays them: this machine's speed varies over a run (its load:
    # the workflows the run has started share the two cores), and a batch's starts come one after another.
    origin: float = 0.0
    per_start: list[tuple[float, float]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def patch(self, failures: StartFailures) -> Any:
        run = LocalFunction.run
        times = self

        def timed(function: LocalFunction, event: Any, context: Any, abandoned: Any) -> Any:
            if function.logical_id != START_FUNCTION:
                return run(function, event, context, abandoned)
            thread = threading.get_ident()
            refusals = times.gate.refused_in.get(thread, 0)
            slept = times.slept_in.get(thread, 0.0)
            postponed = failures.postponed_in.get(thread, 0)
            at = time.monotonic() - times.origin
            began = time.perf_counter()
            try:
                result = run(function, event, context, abandoned)
                with times.lock:  # messages back on the queue: they come again after its visibility timeout
                    times.failed_messages += len((result or {}).get("batchItemFailures", []))
                return result
            except Exception:
                with times.lock:
                    times.failed_messages += len(event.get("Records", []))
                raise
            finally:
                seconds, messages = time.perf_counter() - began, len(event.get("Records", []))
                with times.lock:
                    delays = times.slept_in.get(thread, 0.0) - slept
                    begun = messages - (failures.postponed_in.get(thread, 0) - postponed)
                    if begun > 0:  # a postponed message is over at once: it is no start
                        times.per_start.append((round(at, 2), round((seconds - delays) / begun, 4)))
                    times.seconds += seconds
                    times.retry_delays += delays
                    times.messages += messages
                    times.invocations += 1
                    if times.gate.refused_in.get(thread, 0) == refusals:
                        times.clean_seconds += seconds
                        times.clean_messages += messages

        return mock.patch.object(LocalFunction, "run", timed)

    def patch_retry_sleeps(self) -> Any:
        """botocore's endpoint sleeps before each retry (``time.sleep`` in botocore/endpoint.py): timed per thread."""
        times = self

        class _Time:
            def __getattr__(self, name: str) -> Any:
                return getattr(time, name)

            def sleep(self, seconds: float) -> None:
                thread = threading.get_ident()
                with times.lock:
                    times.slept_in[thread] = times.slept_in.get(thread, 0.0) + seconds
                time.sleep(seconds)

        return mock.patch.object(botocore.endpoint, "time", _Time())

    def patch_deliveries(self) -> Any:
        """The event source's hand-over of a batch: the invocation, then deleting its messages one by one (the local
        stack's poller holds the batch's concurrency slot through both; AWS's deletes are its own)."""
        deliver = QueuePollers._deliver
        times = self

        def timed(pollers: QueuePollers, sqs: Any, mapping: Any, messages: list[dict[str, Any]]) -> None:
            began = time.perf_counter()
            try:
                deliver(pollers, sqs, mapping, messages)
            finally:
                if mapping.function.logical_id == START_FUNCTION:
                    with times.lock:
                        times.delivery_seconds += time.perf_counter() - began

        return mock.patch.object(QueuePollers, "_deliver", timed)

    def summary(self) -> dict[str, float | int | list[tuple[float, float]]]:
        return {
            "invocations": self.invocations,
            "messages": self.messages,
            "seconds": round(self.seconds, 2),
            "messages_without_throttle": self.clean_messages,
            "messages_failed": self.failed_messages,
            "seconds_per_message": round(self.clean_seconds / max(1, self.clean_messages), 4),
            "retry_delay_seconds": round(self.retry_delays, 2),
            "seconds_per_message_without_retry_delays": round(
                (self.seconds - self.retry_delays) / max(1, self.messages), 4
            ),
            # what a batch holds its slot for beyond its invocation (the poller's deletes)
            "seconds_per_batch_beyond_the_invocation": round(
                (self.delivery_seconds - self.seconds) / max(1, self.invocations), 4
            ),
            "starts_by_invocation": sorted(self.per_start),  # [began at, seconds per start]
        }


@dataclass
class StartFailures:
    """Why StartScheduledUpdate reported a message failed (Powertools' batch processor sees each record's exception)."""

    reasons: dict[str, int] = field(default_factory=dict)
    postponed_in: dict[int, int] = field(default_factory=dict)  # StartPostponed per thread (an invocation runs in one)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def patch(self) -> Any:
        handler = BatchProcessor.failure_handler
        failures = self

        def counted(processor: BatchProcessor, record: Any, exception: Any) -> Any:
            reason = f"{exception[0].__name__}: {str(exception[1])[:120]}"
            with failures.lock:
                failures.reasons[reason] = failures.reasons.get(reason, 0) + 1
                if exception[0].__name__ == "StartPostponed":
                    thread = threading.get_ident()
                    failures.postponed_in[thread] = failures.postponed_in.get(thread, 0) + 1
            return handler(processor, record, exception)

        return mock.patch.object(BatchProcessor, "failure_handler", counted)


def _opt_in(stack: Any, user: BankUser, connections: list[int]) -> None:
    """The operator syncs the user's connections; the user opts each in (due at once), eight requests at a time."""
    url = f"{stack.api_url}/v1/admin/users/{user.sub}/connections/sync"
    headers = stack.admin_headers("POST", url, b"")
    httpx.post(url, headers=headers, timeout=ADMIN_TIMEOUT_SECONDS).raise_for_status()

    def opt_in(connection: int) -> None:
        answer = user.http.put(f"/v1/bank-connections/{connection}/schedule", json={"enabled": True})
        answer.raise_for_status()

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(opt_in, connections))


@dataclass
class Schedules:
    """EventBridge Scheduler as production runs it during the drain: the scheduler every ``scheduler_period`` after
    its first run (which the bench fires itself), the stale-update reconciler every ``reconciler_period``."""

    stack: Any
    scheduler_period: float
    reconciler_period: float
    until: float  # seconds from the origin: no run fires at or after it (the run's figures end there)
    runs: list[dict[str, Any]] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self, origin: float) -> None:
        self._thread = threading.Thread(target=self._fire, args=(origin,), name="bench-schedules", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def _fire(self, origin: float) -> None:
        tick = 1
        while not self._stop.wait(max(0.0, origin + tick * self.reconciler_period - time.monotonic())):
            at = tick * self.reconciler_period
            if at >= self.until:
                return
            if at % self.scheduler_period == 0:
                self._run("ScheduleUpdatesFunctionScheduler", at)
            self._run(RECONCILER, at)
            tick += 1

    def _run(self, schedule: str, at: float) -> None:
        try:
            result = self.stack.fire_schedule(schedule)
        except Exception as error:  # a failed run is a figure of the run, not the bench's end
            result = {"error": f"{type(error).__name__}: {error}"}
        self.runs.append({"schedule": schedule, "at": at, "result": result})


def _ended(stack: Any, timeout: float) -> dict[str, Any]:
    """Once the queue is empty and no update runs: how the executions ended, and the connections left locked."""
    try:
        stack.settle(timeout=timeout)
        settled = True
    except TimeoutError:
        settled = False
    sfn, ddb = stack.boto3_client("stepfunctions"), stack.boto3_client("dynamodb")
    statuses: dict[str, int] = {}
    pages = sfn.get_paginator("list_executions").paginate(
        stateMachineArn=stack.physical_id("UpdateConnectionStateMachine")
    )
    for page in pages:
        for execution in page["executions"]:
            statuses[execution["status"]] = statuses.get(execution["status"], 0) + 1
    locked = 0
    updates: dict[str, int] = {}  # how each update record ended: status (error code)
    for page in ddb.get_paginator("scan").paginate(TableName=stack.physical_id("StateTable")):
        for item in page["Items"]:
            locked += "active_update_id" in item
            if item["pk"]["S"].startswith("UPDATE#") and item["sk"]["S"] == "UPDATE":
                code = item.get("error", {}).get("M", {}).get("code", {}).get("S")
                outcome = item["status"]["S"] + (f" ({code})" if code else "")
                updates[outcome] = updates.get(outcome, 0) + 1
    return {"settled": settled, "executions": statuses, "left_locked": locked, "update_records": updates}


def _recorded(retry: ThrottledRetry | None) -> list[int] | None:
    return None if retry is None else [retry.base_seconds, retry.max_seconds]


def real_run(
    updates: int,
    *,
    starts_per_second: float,
    concurrency: int,
    bucket: tuple[float, float],
    download_seconds: float,
    timeout: float,
) -> dict[str, Any]:
    """``updates`` connections of one user due at once, drained by the scheduled path through a StartExecution bucket
    of ``bucket`` = (size, refill a second). Times are seconds from the scheduler's run."""
    params = {"ScheduledStartsPerSecond": str(starts_per_second), "ScheduledStartConcurrency": str(concurrency)}
    policies = load_policies()  # the template the stack deploys, read once
    running = running_system(
        wait_scale=1.0, ScheduledStartsPerSecond=str(starts_per_second), ScheduledStartConcurrency=str(concurrency)
    )
    with running as (stack, sandbox):
        user = BankUser(stack, sandbox, download_seconds=download_seconds)
        connections = [user.connection]
        connections += [
            sandbox.world.add_connection(user.finapi_username, download_seconds=download_seconds)
            for _ in range(updates - 1)
        ]
        _opt_in(stack, user, connections)
        gate = StartGate(TokenBucket(*bucket), stack.physical_id("UpdateConnectionStateMachine"))
        # The template's schedules, as the simulation reads them
        schedules = Schedules(stack, RUN_EVERY, policies.reconcile_period, until=timeout)
        times, failures = StartTimes(gate), StartFailures()
        with ExitStack() as patched:
            for patch in (gate.patch(), times.patch(failures), times.patch_deliveries(), times.patch_retry_sleeps()):
                patched.enter_context(patch)
            patched.enter_context(failures.patch())
            began = times.origin = time.monotonic()
            run = stack.fire_schedule("ScheduleUpdatesFunctionScheduler")
            queued_in = time.monotonic() - began
            schedules.start(began)
            deadline = began + timeout
            while len(gate.started_at) < updates and time.monotonic() < deadline:
                time.sleep(0.5)
            schedules.stop()
            # The figures end at the deadline (the simulation's horizon): a start a late run makes is not in them
            started = sorted(t - began for t in gate.started_at.values() if t - began < timeout)
            refused = [t - began for t in gate.refused_at if t - began < timeout]
            ended = _ended(stack, timeout)
        user.http.close()
    return {
        "updates": updates,
        "timeout_seconds": timeout,
        "parameters": params | {"StartExecution bucket": list(bucket), "download_seconds": download_seconds},
        # (runs before D39 have none: their refused starts came back after the queue's visibility timeout)
        "throttled_retry": _recorded(policies.throttled_retry),
        "scheduler_run": run,
        "queued_in_seconds": round(queued_in, 2),
        "started": len(started),
        "completion_seconds": round(started[-1], 2) if started else None,
        "started_seconds": [round(t, 3) for t in started],
        "throttles": len(refused),
        "first_throttle_seconds": round(min(refused), 2) if refused else None,
        "start_function": times.summary(),
        "start_failures": failures.reasons,
        "schedule_runs": schedules.runs,
        **ended,
    }
