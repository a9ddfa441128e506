"""What one update costs, measured per flow: the Standard workflow's state transitions, the Express poll loops (their
executions and billed duration), the polls, Lambda invocations and seconds, AWS calls (with the DynamoDB request units
and SQS chunks they bill), events, HTTP requests, log bytes, and the detection lag, for 5 s / 60 s / 10 min
downloads, user-present (no SCA, 2 SCA rounds) and scheduled, in both finAPI integrations (decision D26).

Each integration runs on its own local stack (real handlers, the real state machine on moto, the finAPI sandbox, and
finAPI Web Form 2.0 in that mode), in its own process, in real time: the detection lag is one of the things measured.
The updates of an integration run side by side (the ten-minute ones in the background while the shorter ones run);
every invocation is booked to the update(s) whose id it touched (bench/metering.py), an invocation that served several
(a batch of due connections) split evenly between them.

Every connection is known to the service (the operator synced the user's connections), as it is for all but a
connection's very first update. The app behind the user reads the update twice through the API (once after the
trigger, once for the result; in Web Form mode with SCA once more, for the web form's address): those reads are part
of the flow and measured with it. The bench waits for states by reading DynamoDB itself, which no function is charged
for.

The workflow's part is read where AWS bills it from. Standard: the update's execution history, every state entered a
transition (Poll, AwaitUser, ReadWait, WaitLonger, ReadCallbackWait, AwaitCallback, Finalize; a task's retries
too), with the time spent in each state. Express: every execution of the poll loop started for the update (the local
stack's stand-in for the loop's CloudWatch log, ``express_history``: duplicates and continued loops included), each
billed from its start to its stop rounded up to 100 ms, at 64 MB. A poll is the finAPI status read of a Poll state
(the connection's ``updateStatus``; in Web Form 2.0 mode the task's status); the execution history's list of the
polls is kept beside it, and status reads by any other function are counted apart (there should be none).

Detection lag: from the moment the sandbox's download ended (its READY) to the poll that saw it, as recorded on the
update (``result.finishedAt``).

`python -m bench.flows` writes bench/results/flows.json and flows.md (~12 min; BENCH_DURATIONS=5,60 for less).
"""

from __future__ import annotations

import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

from bench.cost import EXPRESS_MEMORY_GB, POLLING_STATES, billed_express_seconds, billed_gb_seconds
from bench.harness import (
    DEMO,
    NO_SCA,
    RESULTS,
    ROOT,
    BankUser,
    duration_label,
    enable_schedule,
    execution_history,
    executions,
    running_system,
)
from bench.metering import Invocation, Meter, metered
from local_stack import LocalStack

INTEGRATIONS = ("ACCESS", "WEB_FORM")
NO_SCA_FLOW, SCA_FLOW, SCHEDULED_FLOW = "user-present, no SCA", "user-present, 2 SCA rounds", "scheduled"
FLOWS = (NO_SCA_FLOW, SCA_FLOW, SCHEDULED_FLOW)
DURATIONS = (5.0, 60.0, 600.0)
HTTP_FUNCTIONS = frozenset(
    {"TriggerUpdateFunction", "CollectCredentialsFunction", "QueryFunction", "WebFormCallbackFunction"}
)
SQS_FUNCTIONS = frozenset({"StartScheduledUpdateFunction"})  # the only SQS consumer: the due connections' queue
SHARED_FUNCTIONS = frozenset({"ScheduleUpdatesFunction"})  # one run serves every due connection: bench/scheduler.py
POLL_FUNCTION = "PollUpdateStatusFunction"
POLL_LOOP = "PollLoopStateMachine"
_SCHEDULING = threading.Lock()
# finAPI's status reads: the connection's updateStatus (either API version), the Web Form task's status.
STATUS_PATHS = ("GET /api/v1/bankConnections/{id}", "GET /api/v2/bankConnections/{id}", "GET /api/tasks/{id}")
# A poll is the status read of a Poll state: the connection's with the Access integration, the task's in Web Form 2.0
# mode (there the connection is read once more when the task is done, for the result: not a poll).
POLL_PATHS = {"ACCESS": STATUS_PATHS[:2], "WEB_FORM": STATUS_PATHS[2:]}
_TASK_SCHEDULED = frozenset({"TaskScheduled", "LambdaFunctionScheduled"})
_EXECUTION_ENDED = frozenset({"ExecutionSucceeded", "ExecutionFailed", "ExecutionTimedOut", "ExecutionAborted"})


# ------------------------------------------------------------------------------------------------- the app's side


def stored_update(stack: LocalStack, update_id: str) -> dict[str, Any] | None:
    """The update's item, read by the bench itself (not through the API: no function is charged for it)."""
    answer = stack.boto3_client("dynamodb").get_item(
        TableName=stack.physical_id("StateTable"),
        Key={"pk": {"S": f"UPDATE#{update_id}"}, "sk": {"S": "UPDATE"}},
        ConsistentRead=True,
    )
    item: dict[str, Any] | None = answer.get("Item")
    return item


def wait_for(stack: LocalStack, update_id: str, statuses: set[str], timeout: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        item = stored_update(stack, update_id)
        if item is not None and item["status"]["S"] in statuses:
            return item
        if time.monotonic() > deadline:
            raise TimeoutError(f"update {update_id} not in {statuses} after {timeout} s: {item}")
        time.sleep(0.1)


def complete_web_form(url: str) -> None:
    """The user in finAPI's web form: credentials, a TAN procedure, the TAN (the test bank's is 123456)."""
    with httpx.Client(follow_redirects=True, timeout=15) as browser:
        base, form_id = url.split("/wf/", 1)[0], url.split("/wf/", 1)[1].split("?", 1)[0]
        page = browser.get(url)
        for step, fields in (
            ("credentials", {"userId": "demo", "pin": "demo"}),
            ("procedure", {"procedureId": "901"}),
            ("challenge", {"challengeResponse": "123456"}),
        ):
            csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
            if csrf is None:
                raise RuntimeError(f"the web form shows no {step} step: {page.text[:500]}")
            page = browser.post(f"{base}/wf/{form_id}/{step}", data={"csrf": csrf.group(1)} | fields)


class Flow:
    """One update of one kind, played as the app and its user would."""

    def __init__(
        self, stack: LocalStack, sandbox: Any, integration: str, flow: str, duration: float, replicate: int = 0
    ) -> None:
        self.stack, self.sandbox = stack, sandbox
        self.integration, self.flow, self.duration, self.replicate = integration, flow, duration, replicate
        web_form = integration == "WEB_FORM"
        needs_user = flow == SCA_FLOW
        connection: dict[str, Any] = {"download_seconds": duration, "stored_pin": flow == SCHEDULED_FLOW}
        if needs_user and web_form:
            connection["consent_expires_at"] = None  # no consent: finAPI's task asks for the user in its web form
        self.user = BankUser(stack, sandbox, **connection).sync()  # a connection the service knows
        self.update_id = ""
        self.failure: BaseException | None = None

    def _body(self) -> dict[str, Any]:
        if self.integration == "WEB_FORM":
            return {}
        return {"interface": "XS2A", "loginCredentials": DEMO if self.flow == SCA_FLOW else NO_SCA}

    def play_user_present(self) -> None:
        try:
            started = self.user.trigger(self._body())
            self.update_id = str(started["updateId"])
            self.user.update(self.update_id)  # the app shows the update's state
            if self.flow == SCA_FLOW and self.integration == "ACCESS":
                self.user.answer(self.update_id, {"twoStepProcedureId": "901"})
                self.user.answer(self.update_id, {"challengeResponse": "123456"})
            elif self.flow == SCA_FLOW:
                wait_for(self.stack, self.update_id, {"AUTHENTICATION_REQUIRED"}, timeout=60)
                shown = self.user.update(self.update_id)  # the app learns where the web form is
                complete_web_form(shown["authentication"]["webFormUrl"])
            self.finish()
        except BaseException as error:  # reported by the caller's thread
            self.failure = error

    def finish(self) -> None:
        self.wait_scheduled()
        self.user.update(self.update_id)  # the app reads the result

    def wait_scheduled(self) -> None:
        wait_for(self.stack, self.update_id, {"SUCCEEDED", "FAILED", "EXPIRED"}, timeout=self.duration + 180)

    def close(self) -> None:
        self.user.http.close()


def _connection_of(stack: LocalStack, update_id: str) -> int | None:
    item = stored_update(stack, update_id)
    return int(item["connection_id"]["N"]) if item else None


def play_scheduled(stack: LocalStack, flows: list[Flow]) -> None:
    """Every scheduled flow's connection opts in; one scheduler run starts them all (nobody reads them: no user)."""
    for flow in flows:
        enable_schedule(stack, flow.user)
    before = executions(stack)
    stack.fire_schedule("ScheduleUpdatesFunctionScheduler")
    by_connection = {flow.user.connection: flow for flow in flows}
    deadline = time.monotonic() + 60
    while any(not f.update_id for f in flows):
        for update_id in executions(stack) - before:
            started = by_connection.get(_connection_of(stack, update_id) or -1)
            if started is not None:
                started.update_id = update_id
        if time.monotonic() > deadline:
            raise TimeoutError("the scheduled updates did not start")
        time.sleep(0.2)
    threads = [threading.Thread(target=_finish_quietly, args=(flow,)) for flow in flows]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def _finish_quietly(flow: Flow) -> None:
    try:
        flow.wait_scheduled()
    except BaseException as error:
        flow.failure = error


# ------------------------------------------------------------------------------------------------- measuring


def detection_lag(sandbox: Any, connection_id: int, detected_at: datetime) -> tuple[float, float, datetime]:
    """(lag, download seconds, READY's time): from the sandbox's READY to the poll that saw it."""
    world = sandbox.world
    with world.lock:
        connection = world.connections[connection_id]
        results = [*connection.last_manual_update.values(), *connection.last_auto_update.values()]
        ready_at: datetime = max(r.timestamp for r in results)
    calls = [c for c in world.calls if c.connection_id == connection_id]
    started = min(c.at for c in calls if c.method == "POST" and c.path.endswith("/update"))
    return (detected_at - ready_at).total_seconds(), (ready_at - started).total_seconds(), ready_at


def _shares(invocations: list[Invocation], update_ids: set[str]) -> list[tuple[Invocation, str, float]]:
    """Every invocation booked to the updates it served, split evenly where it served several."""
    booked = []
    for invocation in invocations:
        if invocation.function in SHARED_FUNCTIONS:
            continue
        served = invocation.ids & update_ids
        for update_id in served:
            booked.append((invocation, update_id, 1 / len(served)))
    return booked


def _at(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value
    return datetime.fromisoformat(str(value).replace("Z", "+00:00"))


def standard_workflow(events: list[dict[str, Any]]) -> dict[str, Any]:
    """What the update's Standard execution billed and how long it spent where, from its history: the states entered
    (each a transition) and the tasks' retries (each another), the seconds in each state, and the polling spans
    (the runs of polling states between the start, a wait for the user and the end)."""
    entered: list[str] = []
    retries = 0
    seconds: dict[str, float] = {}
    spans: list[float] = []
    current: tuple[str, datetime] | None = None
    scheduled = 0
    span_started: datetime | None = None
    last_exit: datetime | None = None

    def leave(at: datetime) -> None:
        nonlocal current, last_exit
        if current is not None:
            name, since = current
            seconds[name] = seconds.get(name, 0.0) + (at - since).total_seconds()
            last_exit, current = at, None

    for event in events:
        at = _at(event["timestamp"])
        if "stateEnteredEventDetails" in event:
            leave(at)  # a state left through a Catch may have no exit event of its own
            name = event["stateEnteredEventDetails"]["name"]
            entered.append(name)
            current, scheduled = (name, at), 0
            if name in POLLING_STATES and span_started is None:
                span_started = at
            elif name not in POLLING_STATES and span_started is not None:
                spans.append(((last_exit or at) - span_started).total_seconds())
                span_started = None
        elif event["type"] in _TASK_SCHEDULED:
            scheduled += 1
            retries += 1 if scheduled > 1 else 0
        elif "stateExitedEventDetails" in event or event["type"] in _EXECUTION_ENDED:
            leave(at)
    if span_started is not None:
        spans.append(((last_exit or span_started) - span_started).total_seconds())
    return {
        "states": entered,
        "retries": retries,
        "state_entries": dict(Counter(entered)),
        "state_seconds": {name: round(value, 3) for name, value in sorted(seconds.items())},
        "polling_spans_seconds": [round(span, 3) for span in spans],
    }


def history_polls(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The polls the execution history lists (what each saw, the gap it chose): each Poll task ends with its loops'
    polls (the output when the update finished, the hand-back's cause when it waited elsewhere)."""
    polls: list[dict[str, Any]] = []
    for event in events:
        if event["type"] == "TaskSucceeded":
            details = event["taskSucceededEventDetails"]
            text = details.get("output") or "{}"
        elif event["type"] == "TaskFailed":
            details = event["taskFailedEventDetails"]
            text = details.get("cause") or "{}"
        else:
            continue
        if details.get("resourceType") == "states" and text.startswith("{"):
            polls += json.loads(text).get("polls", [])
    return polls


def express_loops(loops: list[dict[str, Any]]) -> dict[str, Any]:
    """The update's Express poll loops as their log shows them: how many ran (each a request), their billed seconds
    and GB-seconds (64 MB), and how each ended."""
    durations = []
    for loop in loops:
        stamps = [_at(e["timestamp"]) for e in loop["events"] if e.get("timestamp")]
        durations.append((max(stamps) - min(stamps)).total_seconds() if stamps else 0.0)
    billed = sum(billed_express_seconds(d) for d in durations)
    return {
        "express_executions": len(loops),
        "express_seconds": round(sum(durations), 3),
        "express_billed_seconds": round(billed, 3),
        "express_gb_seconds": round(billed * EXPRESS_MEMORY_GB, 6),
        "express_statuses": dict(Counter(str(loop["status"]) for loop in loops)),
        "express_durations_seconds": [round(d, 3) for d in durations],
    }


def measure_update(
    flow: Flow,
    booked: list[tuple[Invocation, float]],
    events: list[dict[str, Any]],
    loops: list[dict[str, Any]],
    status: str,
    detected_at: datetime | None,
) -> dict[str, Any]:
    functions: dict[str, dict[str, float]] = {}
    calls: Counter[str] = Counter()
    finapi: Counter[str] = Counter()
    totals = Counter[str]()
    for invocation, share in booked:
        row = functions.setdefault(
            invocation.function,
            {"memory_mb": invocation.memory_mb, "invocations": 0.0, "seconds": 0.0, "cpu_seconds": 0.0,
             "slept_seconds": 0.0, "aws_calls": 0.0, "finapi_calls": 0.0, "finapi_seconds": 0.0, "aws_seconds": 0.0,
             "cold": 0.0},
        )  # fmt: skip
        row["invocations"] += share
        row["seconds"] += share * invocation.seconds
        row["cpu_seconds"] += share * invocation.cpu_seconds
        row["slept_seconds"] += share * invocation.slept_seconds
        row["aws_calls"] += share * sum(invocation.aws_calls.values())
        row["finapi_calls"] += share * invocation.finapi_calls
        row["finapi_seconds"] += share * invocation.finapi_seconds
        row["aws_seconds"] += share * invocation.aws_seconds
        row["cold"] += share * invocation.cold
        for name, count in invocation.aws_calls.items():
            calls[name] += share * count  # type: ignore[assignment]
        for name, count in invocation.finapi_requests.items():
            finapi[name] += share * count  # type: ignore[assignment]
        status_reads = sum(invocation.finapi_requests.get(path, 0) for path in STATUS_PATHS)
        if invocation.function != POLL_FUNCTION:
            totals["polls_outside_loops"] += share * status_reads  # type: ignore[assignment]
        totals["read_units"] += share * invocation.read_units  # type: ignore[assignment]
        totals["write_units"] += share * invocation.write_units  # type: ignore[assignment]
        totals["index_write_units"] += share * invocation.index_write_units  # type: ignore[assignment]
        totals["sqs_chunks"] += share * invocation.sqs_chunks  # type: ignore[assignment]
        totals["event_chunks"] += share * invocation.event_chunks  # type: ignore[assignment]
        totals["log_bytes"] += share * invocation.log_bytes  # type: ignore[assignment]
        if invocation.function in HTTP_FUNCTIONS:
            totals["http_requests"] += share  # type: ignore[assignment]
        if invocation.function in SQS_FUNCTIONS:
            # Lambda's poller receives the message and deletes it after the invocation: 2 requests per batch.
            totals["sqs_consumer_requests"] += 2 * share  # type: ignore[assignment]
    lag = share_of_lag = before_poll_task = None
    measured_download = None
    if detected_at is not None:
        lag, measured_download, ready_at = detection_lag(flow.sandbox, flow.user.connection, detected_at)
        share_of_lag = lag / flow.duration
        # The part of the lag the update spent outside a poll loop: READY came while the workflow waited elsewhere
        # (for the user, a long gap, a callback) and the last Poll task only began after it.
        polls_entered = [
            _at(e["timestamp"])
            for e in events
            if e.get("stateEnteredEventDetails", {}).get("name") == "Poll" and _at(e["timestamp"]) <= detected_at
        ]
        if polls_entered:
            before_poll_task = max(0.0, (max(polls_entered) - ready_at).total_seconds())
    first = min((i.started for i, _ in booked), default=0.0)
    last = max((i.started + i.seconds for i, _ in booked), default=0.0)
    standard = standard_workflow(events)
    listed = history_polls(events)
    return {
        "integration": flow.integration,
        "flow": flow.flow,
        "download_seconds": flow.duration,
        "replicate": flow.replicate,
        "measured_download_seconds": round(measured_download, 2) if measured_download is not None else None,
        "update_id": flow.update_id,
        "status": status,
        "transitions": len(standard["states"]) + standard["retries"],
        **standard,
        **express_loops(loops),
        "lag_seconds": round(lag, 2) if lag is not None else None,
        "lag_share": round(share_of_lag, 4) if share_of_lag is not None else None,
        "lag_before_poll_task_seconds": round(before_poll_task, 2) if before_poll_task is not None else None,
        "elapsed_seconds": round(last - first, 2),
        "functions": {name: {k: round(v, 6) for k, v in row.items()} for name, row in sorted(functions.items())},
        "aws_calls": {name: round(float(count), 4) for name, count in sorted(calls.items())},
        "finapi_requests": {name: round(float(count), 4) for name, count in sorted(finapi.items())},
        "polls": round(sum(float(finapi.get(path, 0)) for path in POLL_PATHS[flow.integration]), 2),
        "poll_states": round(functions.get(POLL_FUNCTION, {}).get("invocations", 0.0), 2),
        "polls_in_history": len(listed),
        "poll_gaps_seconds": [p.get("waitSeconds") for p in listed],
        "last_gap_seconds": next((p["waitSeconds"] for p in reversed(listed) if p.get("waitSeconds")), None),
        **{name: round(float(value), 4) for name, value in sorted(totals.items())},
    }


def _result_finished_at(stack: LocalStack, update_id: str) -> tuple[str, datetime | None]:
    item = stored_update(stack, update_id)
    assert item is not None
    status = item["status"]["S"]
    result = item.get("result", {}).get("M") if "result" in item else None
    if result is None or "finished_at" not in result:
        return status, None
    return status, datetime.fromisoformat(result["finished_at"]["S"])


def replicates(duration: float) -> int:
    """Short downloads several times over (their medians are the figures), the ten-minute one once."""
    return int(os.environ.get("BENCH_REPLICATES", "3")) if duration <= 60 else 1


def warm_up(stack: LocalStack, sandbox: Any, integration: str, width: int) -> None:
    """Every flow once with a short download, ``width`` of each side by side, so that the measured updates run on
    warm functions with as many environments as they use (cold starts are bench/cold_start.py's subject)."""
    flows = [Flow(stack, sandbox, integration, flow, 1.0) for flow in (NO_SCA_FLOW, SCA_FLOW) for _ in range(width)]
    _run_side_by_side(flows, [Flow(stack, sandbox, integration, SCHEDULED_FLOW, 1.0) for _ in range(width)])


def _run_side_by_side(user_present: list[Flow], scheduled: list[Flow]) -> None:
    threads = [threading.Thread(target=f.play_user_present) for f in user_present]
    for thread in threads:
        thread.start()
    if scheduled:
        with _SCHEDULING:  # one scheduler run at a time: a run starts every connection due at that moment
            play_scheduled(scheduled[0].stack, scheduled)
    for thread in threads:
        thread.join()
    for flow in [*user_present, *scheduled]:
        flow.close()
        if flow.failure is not None:
            raise RuntimeError(f"{flow.integration} {flow.flow} {flow.duration:g} s failed") from flow.failure


def run_integration(integration: str, durations: list[float]) -> list[dict[str, Any]]:
    """The ten-minute downloads start first and run in the background; meanwhile the 60 s updates run side by side,
    then the 5 s ones, a replicate at a time: fewer updates at once keep moto's contention out of the lag."""
    with (
        metered() as meter,  # before the stack's first invocation: the meter must see the core's sleeps
        running_system(
            wait_scale=1.0,
            integration=integration,
            env={"POWERTOOLS_LOG_LEVEL": "INFO"},  # the template's default: log volume is part of the bill
            UpdateDeadlineSeconds="900",
        ) as (stack, sandbox),
    ):
        warm_up(stack, sandbox, integration, width=3)
        meter.clear()
        flows: list[Flow] = []

        def group(duration: float, replicate: int | None = None) -> tuple[list[Flow], list[Flow]]:
            wanted = [n for n in range(replicates(duration)) if replicate is None or n == replicate]
            user_present = [
                Flow(stack, sandbox, integration, f, duration, n) for f in (NO_SCA_FLOW, SCA_FLOW) for n in wanted
            ]
            scheduled = [Flow(stack, sandbox, integration, SCHEDULED_FLOW, duration, n) for n in wanted]
            flows.extend([*user_present, *scheduled])
            return user_present, scheduled

        long_ones = [d for d in durations if d > 60]
        background = [threading.Thread(target=_run_side_by_side, args=group(d)) for d in long_ones]
        for thread in background:
            thread.start()
            time.sleep(2)
        for duration in sorted((d for d in durations if d <= 60), reverse=True):
            if duration >= 60:
                _run_side_by_side(*group(duration))
            else:
                for n in range(replicates(duration)):
                    _run_side_by_side(*group(duration, n))
        for thread in background:
            thread.join()
        time.sleep(2)  # the last invocations (the workflow's end) are booked
        return measured_rows(stack, meter, flows)


def _loops_by_update(stack: LocalStack, update_ids: set[str], timeout: float = 60) -> dict[str, list[dict[str, Any]]]:
    """Every Express poll loop of these updates, once none of them runs any more (a loop ends just after the poll
    that finished its update or handed it back)."""
    deadline = time.monotonic() + timeout
    while True:
        loops = [e for e in stack.express_history(POLL_LOOP) if e["input"].get("updateId") in update_ids]
        if all(loop["status"] != "RUNNING" for loop in loops) or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    by_update: dict[str, list[dict[str, Any]]] = {u: [] for u in update_ids}
    for loop in loops:
        by_update[loop["input"]["updateId"]].append(loop)
    return by_update


def measured_rows(stack: LocalStack, meter: Meter, flows: list[Flow]) -> list[dict[str, Any]]:
    update_ids = {f.update_id for f in flows}
    by_update: dict[str, list[tuple[Invocation, float]]] = {u: [] for u in update_ids}
    for invocation, update_id, share in _shares(list(meter.invocations), update_ids):
        by_update[update_id].append((invocation, share))
    histories = {f.update_id: execution_history(stack, f.update_id, timeout=60) for f in flows}
    loops = _loops_by_update(stack, update_ids)
    rows = []
    for flow in flows:
        status, detected_at = _result_finished_at(stack, flow.update_id)
        row = measure_update(
            flow, by_update[flow.update_id], histories[flow.update_id], loops[flow.update_id], status, detected_at
        )
        rows.append(row)
        print(
            f"{flow.integration:<8} {flow.flow:<27} {flow.duration:>5.0f} s  {status:<9} {row['transitions']} "
            f"transition(s)  {row['express_executions']} loop(s) {row['express_billed_seconds']:.1f} s  "
            f"{row['polls']:g} poll(s)  lag {row['lag_seconds']} s  "
            f"{sum(r['invocations'] for r in row['functions'].values()):.1f} invocations  "
            f"{sum(row['aws_calls'].values()):.1f} AWS calls",
            flush=True,
        )
    return rows


# ------------------------------------------------------------------------------------------------- report


def _median(values: list[float]) -> float:
    return round(statistics.median(values), 6)


def _median_of_maps(maps: list[dict[str, Any]]) -> dict[str, Any]:
    keys = sorted({k for m in maps for k in m})
    out: dict[str, Any] = {}
    for key in keys:
        values = [m.get(key) for m in maps]
        if any(isinstance(v, dict) for v in values):
            out[key] = _median_of_maps([v if isinstance(v, dict) else {} for v in values])
        else:
            out[key] = _median([float(v or 0) for v in values])
    return out


def aggregate(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per integration, flow and download: the median of each measured quantity over its replicates."""
    groups: dict[tuple[str, str, float], list[dict[str, Any]]] = {}
    for run in runs:
        groups.setdefault((run["integration"], run["flow"], run["download_seconds"]), []).append(run)
    rows = []
    for (integration, flow, duration), group in groups.items():
        numeric = {k for r in group for k, v in r.items() if isinstance(v, int | float) and not isinstance(v, bool)}
        row: dict[str, Any] = {"integration": integration, "flow": flow, "download_seconds": duration}
        row["replicates"] = len(group)
        row["status"] = Counter(r["status"] for r in group).most_common(1)[0][0]
        row["statuses"] = dict(Counter(r["status"] for r in group))
        row["states"] = group[0]["states"]
        row["update_ids"] = [r["update_id"] for r in group]
        for key in sorted(numeric - {"download_seconds", "replicate"}):
            values = [r[key] for r in group if r.get(key) is not None]
            row[key] = _median(values) if values else None
        for key in ("functions", "aws_calls", "finapi_requests", "state_entries", "state_seconds"):
            row[key] = _median_of_maps([r[key] for r in group])
        row["express_statuses"] = dict(sum((Counter(r["express_statuses"]) for r in group), Counter[str]()))
        rows.append(row)
    return rows


def markdown(rows: list[dict[str, Any]]) -> str:
    lines = [
        "Per update, measured on the local stack (all updates of an integration side by side, in real time; "
        "medians over the replicates of each row). Standard transitions: the states the update's execution entered "
        "(its tasks' retries included); Express: the poll loops started for the update, each billed from start to "
        "stop in 100 ms steps at 64 MB; polls: the Poll states' finAPI status reads. "
        "Invocations and AWS calls are per update (a batch shared by several updates split evenly); billed GB-s "
        "as bench/cost.py models them (CPU stretched by the memory's CPU share, inline sleeps, 10 ms per AWS call; "
        "local GB-s: the invocations' wall time on this machine, moto's contention included).",
        "",
        "| integration | flow | download | outcome | Standard transitions | Express executions | Express billed s "
        "| Express GB-s | polls | detection lag | lag / download | Lambda invocations | billed GB-s | local GB-s "
        "| AWS calls | DynamoDB RRU / WRU / GSI WRU | SQS messages | HTTP requests | log KB |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        invocations = sum(f["invocations"] for f in r["functions"].values())
        billed = billed_gb_seconds(r["functions"])
        local = sum(f["seconds"] * f["memory_mb"] / 1024 for f in r["functions"].values())
        lag = f"{r['lag_seconds']} s" if r["lag_seconds"] is not None else "—"
        share = f"{r['lag_share'] * 100:.1f} %" if r["lag_share"] is not None else "—"
        outcome = ", ".join(f"{status} ×{n}" if n > 1 else status for status, n in r["statuses"].items())
        lines.append(
            f"| {r['integration']} | {r['flow']} | {duration_label(r['download_seconds'])} ×{r['replicates']} "
            f"| {outcome} | {r['transitions']:g} ({' → '.join(r['states'])}) | {r['express_executions']:g} "
            f"| {r['express_billed_seconds']:.1f} | {r['express_gb_seconds']:.3f} | {r['polls']:g} "
            f"| {lag} | {share} | {invocations:.2f} | {billed:.3f} | {local:.3f} "
            f"| {sum(r['aws_calls'].values()):.2f} | {r.get('read_units', 0):g} / {r.get('write_units', 0):g} / "
            f"{r.get('index_write_units', 0):g} | {r.get('sqs_chunks', 0):g} "
            f"| {r.get('http_requests', 0):g} | {r.get('log_bytes', 0) / 1024:.1f} |"
        )
    lines += [
        "",
        "The states column shows the first replicate's path. Invocations per function, AWS calls, the seconds spent "
        "in each state, each loop's duration and the polls the execution history lists: flows.json.",
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    durations = [float(d) for d in os.environ.get("BENCH_DURATIONS", "").split(",") if d] or list(DURATIONS)
    if len(sys.argv) > 2 and sys.argv[1] == "--integration":
        Path(sys.argv[3]).write_text(json.dumps(run_integration(sys.argv[2], durations)))
        return
    with tempfile.TemporaryDirectory() as scratch:
        children: dict[str, tuple[Path, subprocess.Popen[bytes]]] = {}
        for integration in INTEGRATIONS:
            out = Path(scratch) / f"{integration}.json"
            command = [sys.executable, "-W", "ignore", "-m", "bench.flows", "--integration", integration, str(out)]
            children[integration] = (out, subprocess.Popen(command, cwd=ROOT))
        rows: list[dict[str, Any]] = []
        for integration, (out, child) in children.items():
            if child.wait() != 0:
                raise SystemExit(f"the {integration} flows failed")
            rows += json.loads(out.read_text())
    updates = aggregate(rows)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "flows.json").write_text(json.dumps({"updates": updates, "runs": rows}, indent=2) + "\n")
    (RESULTS / "flows.md").write_text(markdown(updates))
    print((RESULTS / "flows.md").read_text())


if __name__ == "__main__":
    main()
