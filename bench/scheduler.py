"""Scheduler cost: AWS API calls per scheduled connection, and the time to enqueue N due connections (moto).

`python -m bench.scheduler [N ...]` (default 10000) writes bench/results/scheduler.json and scheduler.md.
The connections are written straight into the table first (not measured); then one ScheduleUpdates run is timed.
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

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "layers" / "core"))

from bankupdate.domain.model import ConnectionRecord, ScheduleState  # noqa: E402
from bankupdate.domain.scheduling import shard_of  # noqa: E402
from bankupdate.settings import Settings  # noqa: E402
from bankupdate.stores import aws  # noqa: E402
from bankupdate.stores.items import to_item  # noqa: E402
from bankupdate.usecases.schedule_due import enqueue_due_connections  # noqa: E402
from bankupdate.usecases.services import Services  # noqa: E402

RESULTS = ROOT / "bench" / "results"
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
                "Projection": {"ProjectionType": "ALL"},
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
        services = Services(settings)
        calls: Counter[str] = Counter()

        def count_call(event_name: str, **_: Any) -> None:
            calls[event_name.split(".", 1)[1]] += 1

        for service in ("dynamodb", "sqs"):
            aws.client(service).meta.events.register("before-call.*.*", count_call)
        started = time.perf_counter()
        run = enqueue_due_connections(services)
        seconds = time.perf_counter() - started
        aws._client.cache_clear()
    total = sum(calls.values())
    return {
        "due_connections": count,
        "enqueued": run.enqueued,
        "aws_calls": dict(calls),
        "aws_calls_total": total,
        "aws_calls_per_connection": round(total / count, 4),
        "enqueue_seconds_on_moto": round(seconds, 2),
    }


def main() -> None:
    os.environ.setdefault("AWS_DEFAULT_REGION", "eu-central-1")
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    os.environ.pop("AWS_ENDPOINT_URL", None)
    sizes = [int(a) for a in sys.argv[1:]] or [10_000]
    results = [measure(n) for n in sizes]
    for result in results:
        print(json.dumps(result), flush=True)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "scheduler.json").write_text(json.dumps(results, indent=2) + "\n")
    lines = ["| due connections | AWS calls | calls per connection | enqueue time on moto (s) |", "|---|---|---|---|"]
    for r in results:
        per = r["aws_calls_per_connection"]
        lines.append(f"| {r['due_connections']:,} | {r['aws_calls']} | {per} | {r['enqueue_seconds_on_moto']} |")
    lines.append(
        "\nThe call count is exact; the time is moto's: its SQS recomputes queue attributes over every queued message "
        "on each send (quadratic in queue length), which AWS does not."
    )
    (RESULTS / "scheduler.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
