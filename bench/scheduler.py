"""Scheduler cost: AWS API calls per scheduled connection, and the time to enqueue N due connections (moto).

`python -m bench.scheduler [N ...]` (default 10000 100000) writes bench/results/scheduler.json and scheduler.md.
The connections are written straight into the table first (not measured); then one ScheduleUpdates run is timed.

moto's SQS recomputes queue attributes over every queued message on each send, so a queue that only fills makes the
run quadratic (10,000 connections took 723 s that way). A consumer drains the queue after every batch, as
StartScheduledUpdate does in AWS, and counts what it drained: every message must arrive.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
from moto import mock_aws
from moto.sqs.models import sqs_backends

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "layers" / "core"))

from bankupdate.composition import Adapters, system_clock  # noqa: E402
from bankupdate.domain.model import ConnectionRecord, ScheduleState  # noqa: E402
from bankupdate.domain.pacing import Pacing  # noqa: E402
from bankupdate.domain.scheduling import shard_of  # noqa: E402
from bankupdate.settings import Settings  # noqa: E402
from bankupdate.stores import aws  # noqa: E402
from bankupdate.stores.items import to_item  # noqa: E402
from bankupdate.usecases.schedule_updates import ScheduleUpdates  # noqa: E402

RESULTS = ROOT / "bench" / "results"
# One run queues every due connection at once, none held back: the calls per connection are what is measured here
# (the paced drain is bench/scale.py's).
PACING = Pacing(starts_per_second=1e9, window_seconds=900)
ACCOUNT_ID = "123456789012"  # moto's default account
TABLE, SHARDS = "bench-state", 4


def _table() -> None:
    keys = ("pk", "sk", "gsi1pk", "gsi1sk")
    boto3.client("dynamodb").create_table(
        TableName=TABLE,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": k, "AttributeType": "S"} for k in keys],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        GlobalSecondaryIndexes=[
            {
                "IndexName": "gsi1",
                "KeySchema": [
                    {"AttributeName": "gsi1pk", "KeyType": "HASH"},
                    {"AttributeName": "gsi1sk", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "KEYS_ONLY"},
            }
        ],
    )


def _seed(count: int, now: datetime) -> None:
    ddb = boto3.client("dynamodb")
    due = now - timedelta(minutes=1)
    items = []
    for n in range(1, count + 1):
        owner = f"user-{n % 997}"
        record = ConnectionRecord(
            owner_id=owner, connection_id=n, created_at=now, schedule=ScheduleState(enabled=True, next_due_at=due)
        )
        item = to_item(record.model_dump(mode="json", exclude_none=True)) | {
            "pk": {"S": f"USER#{owner}"},
            "sk": {"S": f"CONNECTION#{n}"},
            "gsi1pk": {"S": f"DUE#{shard_of(owner, n, SHARDS)}"},
            "gsi1sk": {"S": f"{due.isoformat()}#{owner}#{n}"},
        }
        items.append({"PutRequest": {"Item": item}})
    for start in range(0, len(items), 25):
        ddb.batch_write_item(RequestItems={TABLE: items[start : start + 25]})


def measure(count: int) -> dict[str, Any]:
    with mock_aws():
        aws._client.cache_clear()
        _table()
        queue_url = boto3.client("sqs").create_queue(QueueName="bench-due")["QueueUrl"]
        now = datetime.now(UTC)
        _seed(count, now)
        settings = Settings.model_validate(
            {
                "TABLE_NAME": TABLE,
                "IDEMPOTENCY_TABLE_NAME": "unused",
                "EVENT_BUS_NAME": "unused",
                "STATE_MACHINE_ARN": "arn:aws:states:eu-central-1:123456789012:stateMachine:unused",
                "KMS_KEY_ID": "unused",
                "FINAPI_BASE_URL": "http://unused",
                "FINAPI_CLIENT_SECRET_ID": "unused",
                "SCHEDULE_QUEUE_URL": queue_url,
                "SCHEDULE_SHARDS": str(SHARDS),
            }
        )
        adapters = Adapters(settings, system_clock())
        schedule_due = ScheduleUpdates(adapters.schedules, adapters.due_queue, adapters.clock, PACING)
        calls: Counter[str] = Counter()

        def count_call(event_name: str, **_: Any) -> None:
            calls[event_name.split(".", 1)[1]] += 1

        in_calls = 0.0
        drained = 0
        queue = sqs_backends[ACCOUNT_ID][os.environ["AWS_DEFAULT_REGION"]].queues["bench-due"]

        def call_started(**_: Any) -> None:
            nonlocal in_calls
            in_calls -= time.perf_counter()

        def call_ended(event_name: str, **_: Any) -> None:
            nonlocal in_calls, drained
            in_calls += time.perf_counter()
            if event_name.endswith("SendMessageBatch"):
                drained += len(queue._messages)
                queue._messages.clear()

        for service in ("dynamodb", "sqs"):
            events = aws.client(service).meta.events
            events.register("before-call.*.*", count_call)
            events.register_first("before-parameter-build.*.*", call_started)
            events.register_last("after-call.*.*", call_ended)
        started = time.perf_counter()
        run = schedule_due()
        seconds = time.perf_counter() - started
        aws._client.cache_clear()
    if drained != count or run.enqueued != count:
        raise SystemExit(f"{count} due, {run.enqueued} enqueued, {drained} arrived")
    total = sum(calls.values())
    return {
        "due_connections": count,
        "enqueued": run.enqueued,
        "arrived_in_queue": drained,
        "aws_calls": dict(calls),
        "aws_calls_total": total,
        "aws_calls_per_connection": round(total / count, 4),
        "enqueue_seconds_on_moto": round(seconds, 2),
        "seconds_in_aws_calls_on_moto": round(in_calls, 2),
        "seconds_in_our_code": round(seconds - in_calls, 2),
        "seconds_if_each_call_took_10ms": round(seconds - in_calls + total * 0.010, 1),
    }


def main() -> None:
    os.environ.setdefault("AWS_DEFAULT_REGION", "eu-central-1")
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    os.environ.pop("AWS_ENDPOINT_URL", None)
    sizes = [int(a) for a in sys.argv[1:]] or [10_000, 100_000]
    results = [measure(n) for n in sizes]
    for result in results:
        print(json.dumps(result), flush=True)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "scheduler.json").write_text(json.dumps(results, indent=2) + "\n")
    lines = [
        "| due connections | AWS calls | calls per connection (target ≤ 0.3) | enqueue time on moto (s) | of which in "
        "moto (s) | in our code (s) | if each AWS call took 10 ms (s) |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in results:
        per = r["aws_calls_per_connection"]
        verdict = "met" if per <= 0.3 else f"MISSED by {per - 0.3:.3f}"
        lines.append(
            f"| {r['due_connections']:,} | {r['aws_calls']} | {per} ({verdict}) | {r['enqueue_seconds_on_moto']} "
            f"| {r['seconds_in_aws_calls_on_moto']} | {r['seconds_in_our_code']} "
            f"| {r['seconds_if_each_call_took_10ms']} |"
        )
    lines.append(
        "\nCalls are exact (one GSI query page per ~1 MB of due keys per shard, one SendMessageBatch per 10 "
        "connections). Times are this machine's; the last column is arithmetic (our code + calls × 10 ms, sequential), "
        "not a measurement on AWS."
    )
    (RESULTS / "scheduler.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
