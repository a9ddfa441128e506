"""The cost model: what one update costs in AWS, per service, from what bench/flows.py measured (docs/cost-model.md
writes the arithmetic out), and what the same updates would cost in the other shapes issue 19 weighed.

Counts are measured: the Standard workflow's transitions, the Express poll loops' executions and billed GB-seconds,
invocations, AWS calls, DynamoDB request units (GSI writes included), SQS chunks and the poller's requests,
EventBridge chunks, HTTP requests, log bytes, the CPU time and the sleeps of every invocation. Step Functions:

    Standard transitions × P_transition + Express executions × P_request + Express GB-seconds × P_GBs

Two latencies are not: the local stack runs moto and the finAPI sandbox in one process on a shared
2-core machine, where an AWS call takes tens of milliseconds under load and a finAPI call one. So the billed
duration of an invocation is modelled from its measured parts:

    billed seconds = CPU seconds × max(1, 1769 MB / memory)   Lambda's CPU share: one vCPU at 1,769 MB
                   + seconds slept inside the invocation (none in this design: measured 0)
                   + AWS calls × AWS_CALL_SECONDS
                   + finAPI calls × FINAPI_CALL_SECONDS         finAPI's own time: 0 in the figures, priced apart

INIT is billed since 1 August 2025: every cold start costs its INIT (measured, bench/cold_start.py; INIT runs with
Lambda's CPU boost, so its wall time here stands) plus the extra CPU of the first invocation, at the function's
memory; AWS reports cold starts in under 1 % of invocations (COLD_START_SHARE).
"""

from __future__ import annotations

import math
from typing import Any

from bankupdate.domain.prices import EXPRESS_MIN_MEMORY_GB
from bankupdate.settings import Settings
from bench.pricing import PRICES_USD, aws_calls_usd_by_service, express_usd, lambda_usd, logs_usd, transitions_usd

FULL_CPU_MB = 1769
AWS_CALL_SECONDS = 0.010
FINAPI_CALL_SECONDS = 0.0
FINAPI_SENSITIVITY_SECONDS = 0.1
COLD_START_SHARE = 0.01
SERVICES = (
    "sfn standard",
    "sfn express",
    "lambda",
    "lambda INIT",
    "dynamodb",
    "sqs",
    "events",
    "kms",
    "secretsmanager",
    "apigateway",
    "logs",
)
# SQS: a due connection is one of ten in a SendMessageBatch, and one of ten in the batch Lambda's poller receives and
# deletes (BatchSize 10, at scale).
DUE_QUEUE_CONSUMER_REQUESTS = 2 / 10


# Express bills each execution from its start to its stop in 100 ms steps, at its memory in 64 MB steps (a poll
# loop's state is a few KB: 64 MB).
EXPRESS_STEP_SECONDS = 0.1
EXPRESS_MEMORY_GB = EXPRESS_MIN_MEMORY_GB
# The Standard workflow's states that poll or wait between polls (the Poll task runs the Express loop); the others
# wait for the user (AwaitUser) or end a failed update (Finalize, FinalizeFailed).
POLLING_STATES = frozenset({"Poll", "ReadWait", "WaitLonger", "ReadCallbackWait", "AwaitCallback"})
# How long one Express poll loop runs before it hands on to a fresh one: Express's five minutes less the reserve a
# Wait and one more poll need (the template's POLL_RESERVE_SECONDS; Settings' defaults are the template's values).
LOOP_LIFE_SECONDS = float(
    Settings.model_fields["poll_loop_max_seconds"].default - Settings.model_fields["poll_reserve_seconds"].default
)
# Standard throughout: every poll a Wait, the Poll task and a Choice.
STANDARD_TRANSITIONS_PER_POLL = 3


def billed_express_seconds(seconds: float) -> float:
    """One Express execution's billed duration: its start to its stop, rounded up to 100 ms."""
    return max(1, math.ceil(round(seconds / EXPRESS_STEP_SECONDS, 6))) * EXPRESS_STEP_SECONDS


def stepfunctions_usd(row: dict[str, Any]) -> dict[str, float]:
    """Step Functions for one update: the Standard transitions, and the Express executions with their GB-seconds."""
    return {
        "sfn standard": transitions_usd(row["transitions"]),
        "sfn express": express_usd(row.get("express_executions", 0.0), row.get("express_gb_seconds", 0.0)),
    }


def cpu_stretch(memory_mb: float) -> float:
    return max(1.0, FULL_CPU_MB / memory_mb)


def billed_seconds(function: dict[str, float], finapi_call_seconds: float = FINAPI_CALL_SECONDS) -> float:
    """The duration Lambda bills for a function's share of one update (see the module's formula)."""
    return (
        function["cpu_seconds"] * cpu_stretch(function["memory_mb"])
        + function["slept_seconds"]
        + function["aws_calls"] * AWS_CALL_SECONDS
        + function["finapi_calls"] * finapi_call_seconds
    )


def billed_gb_seconds(
    functions: dict[str, dict[str, float]], finapi_call_seconds: float = FINAPI_CALL_SECONDS
) -> float:
    return sum(billed_seconds(f, finapi_call_seconds) * f["memory_mb"] / 1024 for f in functions.values())


def _init_gb_seconds(cold: dict[str, Any], function: str, warm_cpu_seconds: float, integration: str) -> float:
    """One cold start of ``function``: INIT at full speed, plus the first invocation's CPU beyond a warm one's,
    stretched by the memory's CPU share (measured in the same integration where it was, else in the other)."""
    runs = sorted(cold.get("runs", []), key=lambda run: run["integration"] != integration)
    for run in runs:
        for row in run["functions"]:
            if _logical(row["function"]) == function:
                memory = float(row["memory_mb"])
                extra_cpu = max(0.0, float(row["first_cpu_ms"]) / 1000 - warm_cpu_seconds)
                return (float(row["init_wall_ms"]) / 1000 + extra_cpu * cpu_stretch(memory)) * memory / 1024
    return 0.0


def _logical(function_dir: str) -> str:
    special = {"webform_callback": "WebFormCallbackFunction"}
    return special.get(function_dir, "".join(p.title() for p in function_dir.split("_")) + "Function")


def scheduler_share(scheduler: list[dict[str, Any]]) -> dict[str, float]:
    """One due connection's share of a scheduler run (bench/scheduler.py, at the largest size measured): its query
    pages (keys only, eventually consistent, ~1 MB a page) and SendMessageBatch calls, the run's Lambda time."""
    if not scheduler:
        return {}
    run = max(scheduler, key=lambda r: r["due_connections"])
    due = run["due_connections"]
    pages = run["aws_calls"].get("dynamodb.Query", 0) / due
    sends = run["aws_calls"].get("sqs.SendMessageBatch", 0) / due
    seconds = run["seconds_if_each_call_took_10ms"] / due
    return {
        "dynamodb": pages * (1024 / 4 / 2) * PRICES_USD["dynamodb.read_request_unit"],
        "sqs": sends * PRICES_USD["sqs.request"],
        "lambda": lambda_usd(1 / due, seconds * 512 / 1024),
    }


def update_cost(
    row: dict[str, Any],
    cold: dict[str, Any] | None = None,
    scheduler: list[dict[str, Any]] | None = None,
    finapi_call_seconds: float = FINAPI_CALL_SECONDS,
) -> dict[str, float]:
    """US dollars for one update of the measured kind, per service."""
    functions: dict[str, dict[str, float]] = row["functions"]
    invocations = sum(f["invocations"] for f in functions.values())
    calls: dict[str, float] = row["aws_calls"]
    cost = dict.fromkeys(SERVICES, 0.0)
    cost |= stepfunctions_usd(row)
    cost["lambda"] = lambda_usd(invocations, billed_gb_seconds(functions, finapi_call_seconds))
    if cold is not None:
        for name, f in functions.items():
            warm_cpu = f["cpu_seconds"] / f["invocations"] if f["invocations"] else 0.0
            init = _init_gb_seconds(cold, name, warm_cpu, row["integration"])
            cost["lambda INIT"] += f["invocations"] * COLD_START_SHARE * lambda_usd(0, init)
    cost["dynamodb"] = (
        row.get("read_units", 0.0) * PRICES_USD["dynamodb.read_request_unit"]
        + (row.get("write_units", 0.0) + row.get("index_write_units", 0.0)) * PRICES_USD["dynamodb.write_request_unit"]
    )
    cost["sqs"] = (row.get("sqs_chunks", 0.0) + row.get("sqs_consumer_requests", 0.0)) * PRICES_USD["sqs.request"]
    cost["events"] = row.get("event_chunks", 0.0) * PRICES_USD["eventbridge.custom_event"]
    for service, usd in aws_calls_usd_by_service(calls).items():
        cost[service] = cost.get(service, 0.0) + usd
    cost["apigateway"] = row.get("http_requests", 0.0) * PRICES_USD["apigateway.http_request"]
    cost["logs"] = logs_usd(row.get("log_bytes", 0.0), invocations)
    if row["flow"] == "scheduled" and scheduler:
        for service, usd in scheduler_share(scheduler).items():
            cost[service] += usd
    return cost


def finapi_latency_usd(row: dict[str, Any], seconds: float = FINAPI_SENSITIVITY_SECONDS) -> float:
    """What ``seconds`` of finAPI latency on every finAPI call of the update adds (the functions wait for it)."""
    functions: dict[str, dict[str, float]] = row["functions"]
    return (
        sum(f["finapi_calls"] * seconds * f["memory_mb"] / 1024 for f in functions.values())
        * PRICES_USD["lambda.arm_gb_second"]
    )


def per_million(usd: float) -> float:
    return usd * 1e6


# ------------------------------------------------------------------------------------------------- the shapes


def _express_throughout(span_seconds: float) -> tuple[int, float]:
    """(executions, billed seconds) of one polling span run in Express loops that hand on to a fresh loop every
    LOOP_LIFE_SECONDS (each execution billed in 100 ms steps)."""
    executions = max(1, math.ceil(round(span_seconds / LOOP_LIFE_SECONDS, 6)))
    last = span_seconds - (executions - 1) * LOOP_LIFE_SECONDS
    return executions, (executions - 1) * billed_express_seconds(LOOP_LIFE_SECONDS) + billed_express_seconds(last)


def candidate_inputs(run: dict[str, Any]) -> dict[str, dict[str, float]]:
    """The Step Functions inputs one measured update would have had in the other shapes (the as-built one is
    measured). The Lambda functions, DynamoDB, events and the rest are the measured ones in every shape: each poll
    is one PollUpdateStatus invocation whichever state machine runs it.

    * standard: Standard throughout. Every Poll state the Express loops ran (a PollUpdateStatus invocation) becomes
      a Wait, the Poll task and a Choice in the Standard workflow: 3 transitions; no Express. The states that are no
      polling (AwaitUser, Finalize) and the tasks' retries as measured.
    * express: a Standard parent and Express children throughout. Each polling span of the update's execution (the
      polling states from a Poll to the next wait for the user or the end: Poll, ReadWait, WaitLonger,
      ReadCallbackWait, AwaitCallback) is one Poll state of the parent, polled in Express loops for its whole
      length (no hand-over to WaitLonger or AwaitCallback): ceil(span / LOOP_LIFE_SECONDS) executions, the span's
      seconds at 64 MB. The states that are no polling and the retries as measured."""
    other = sum(n for state, n in run["state_entries"].items() if state not in POLLING_STATES) + run["retries"]
    executions, billed = 0, 0.0
    for span in run["polling_spans_seconds"]:
        n, seconds = _express_throughout(span)
        executions, billed = executions + n, billed + seconds
    return {
        "standard": {
            "transitions": STANDARD_TRANSITIONS_PER_POLL * run["poll_states"] + other,
            "express_executions": 0.0,
            "express_gb_seconds": 0.0,
        },
        "express": {
            "transitions": len(run["polling_spans_seconds"]) + other,
            "express_executions": float(executions),
            "express_gb_seconds": billed * EXPRESS_MEMORY_GB,
        },
    }
