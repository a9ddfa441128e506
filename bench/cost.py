"""The cost model: what one update costs in AWS, per service, from what bench/flows.py measured (docs/cost-model.md
writes the arithmetic out).

Counts are measured: transitions, invocations, AWS calls, DynamoDB request units (GSI writes included), SQS chunks
and the poller's requests, EventBridge chunks, HTTP requests, log bytes, the CPU time and the inline sleeps of every
invocation. Two latencies are not: the local stack runs moto and the finAPI sandbox in one process on a shared
2-core machine, where an AWS call takes tens of milliseconds under load and a finAPI call one. So the billed
duration of an invocation is modelled from its measured parts:

    billed seconds = CPU seconds × max(1, 1769 MB / memory)   Lambda's CPU share: one vCPU at 1,769 MB
                   + seconds slept (the poll gaps slept inline)
                   + AWS calls × AWS_CALL_SECONDS
                   + finAPI calls × FINAPI_CALL_SECONDS         finAPI's own time: 0 in the figures, priced apart

INIT is billed since 1 August 2025: every cold start costs its INIT (measured, bench/cold_start.py; INIT runs with
Lambda's CPU boost, so its wall time here stands) plus the extra CPU of the first invocation, at the function's
memory; AWS reports cold starts in under 1 % of invocations (COLD_START_SHARE).
"""

from __future__ import annotations

from typing import Any

from bench.pricing import PRICES_USD, aws_calls_usd_by_service, lambda_usd, logs_usd, transitions_usd

FULL_CPU_MB = 1769
AWS_CALL_SECONDS = 0.010
FINAPI_CALL_SECONDS = 0.0
FINAPI_SENSITIVITY_SECONDS = 0.1
COLD_START_SHARE = 0.01
SERVICES = (
    "stepfunctions",
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
    cost["stepfunctions"] = transitions_usd(row["transitions"])
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


# ------------------------------------------------------------------------------------------------- Express


def express_alternative(row: dict[str, Any], standard_usd: float) -> dict[str, Any] | None:
    """The same unattended update as an Express execution, computed (not run): Express cannot wait for a task token
    (the supervising task), runs at most 5 minutes and starts at least once, so it would be the older shape, a loop
    of Wait states and one Lambda look per state. The Standard transition, the look timer's SQS traffic and the
    inline sleeps go; Express's request and duration (64 MB, the whole update) and one invocation per look come; each
    look carries its state, so it needs no per-look AWS call beyond what the measured looks made."""
    if row["flow"] != "scheduled":
        return None
    elapsed = row["elapsed_seconds"]
    if elapsed > 290:
        return {"download_seconds": row["download_seconds"], "possible": False}
    functions = row["functions"]
    lookers = [functions[name] for name in ("SuperviseUpdateFunction", "PollUpdateStatusFunction") if name in functions]
    looks = max(row.get("looks", 0.0), 1.0)
    look_cpu = sum(f["cpu_seconds"] for f in lookers) / looks
    look_calls = sum(f["aws_calls"] for f in lookers) / looks
    look_gb_seconds = (look_cpu * cpu_stretch(128) + look_calls * AWS_CALL_SECONDS) * 128 / 1024
    timer_and_sleep = (
        sum(f["slept_seconds"] * f["memory_mb"] / 1024 for f in lookers) * PRICES_USD["lambda.arm_gb_second"]
        + (row.get("sqs_chunks", 0.0) + row.get("sqs_consumer_requests", 0.0)) * PRICES_USD["sqs.request"]
        + sum(f["invocations"] for f in lookers) * PRICES_USD["lambda.request"]
    )
    express_usd = (
        standard_usd
        - transitions_usd(row["transitions"])
        - timer_and_sleep
        + PRICES_USD["stepfunctions.express_request"]
        + max(0.1, elapsed) * (64 / 1024) * PRICES_USD["stepfunctions.express_gb_second"]
        + looks * (PRICES_USD["lambda.request"] + look_gb_seconds * PRICES_USD["lambda.arm_gb_second"])
    )
    return {
        "download_seconds": row["download_seconds"],
        "possible": True,
        "standard_usd": standard_usd,
        "express_usd": express_usd,
        "saving_share": 1 - express_usd / standard_usd,
        "looks": looks,
    }
