"""Each store port, in memory and on DynamoDB (moto, tables from the template): the same tests hold both."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import boto3
import pytest
from moto import mock_aws

from bankupdate.ports import ConnectionStore, ScheduleStore, UpdateStore
from local_stack.fidelity import atomic_dynamodb_requests
from tests.contract.tables import create_table
from tests.fakes import ConnectionItems, InMemoryConnectionStore, InMemoryScheduleStore, InMemoryUpdateStore

SHARDS = 4
REGION = "eu-central-1"
KINDS = ["in-memory", "dynamodb"]


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """moto in-process, with DynamoDB's conditional writes atomic per item as on AWS (see local_stack.fidelity)."""
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_REGION", REGION)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    from bankupdate.stores.aws import _client

    _client.cache_clear()
    patches = atomic_dynamodb_requests()
    for patch in patches:
        patch.start()
    try:
        with mock_aws():
            yield
    finally:
        for patch in patches:
            patch.stop()
        _client.cache_clear()


@pytest.fixture
def state_table(aws: None) -> str:
    return create_table(boto3.client("dynamodb", region_name=REGION), "StateTable", "contract-state")


@pytest.fixture
def idempotency_table(aws: None) -> str:
    return create_table(boto3.client("dynamodb", region_name=REGION), "IdempotencyTable", "contract-idempotency")


@dataclass
class Stores:
    """The three stores over the state table (or over one in-memory set of items)."""

    kind: str
    updates: UpdateStore
    connections: ConnectionStore
    schedules: ScheduleStore


@pytest.fixture(params=KINDS)
def stores(request: pytest.FixtureRequest) -> Stores:
    if request.param == "in-memory":
        items = ConnectionItems()
        return Stores(
            request.param, InMemoryUpdateStore(), InMemoryConnectionStore(items), InMemoryScheduleStore(items)
        )
    from bankupdate.stores.connections import DynamoConnectionStore, DynamoScheduleStore
    from bankupdate.stores.updates import DynamoUpdateStore

    table: str = request.getfixturevalue("state_table")
    return Stores(
        request.param,
        DynamoUpdateStore(table, timedelta(days=30), SHARDS),
        DynamoConnectionStore(table, SHARDS),
        DynamoScheduleStore(table, SHARDS),
    )


def scan(table: str) -> list[dict[str, Any]]:
    """Every item of a table, raw (for tests that check what must never be written)."""
    items: list[dict[str, Any]] = boto3.client("dynamodb", region_name=REGION).scan(TableName=table)["Items"]
    return items
