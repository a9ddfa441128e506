"""moto's DynamoDB, made to apply each request whole (local_stack/fidelity.py): a request that is reading or copying an
item keeps every other request of the process out until it is done, as DynamoDB applies a request atomically."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor, wait
from typing import Any
from unittest import mock

import boto3
import pytest
from moto import mock_aws
from moto.dynamodb.models import DynamoDBBackend

from local_stack.fidelity import atomic_dynamodb_requests

REGION = "eu-central-1"
KEY = {"pk": {"S": "USER#u"}, "sk": {"S": "CONNECTION#7"}}


@pytest.fixture
def dynamodb(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}.items():
        monkeypatch.setenv(name, value)
    patches = atomic_dynamodb_requests()
    for patch in patches:
        patch.start()
    try:
        with mock_aws():
            client = boto3.client("dynamodb", region_name=REGION)
            client.create_table(
                TableName="t",
                KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
                AttributeDefinitions=[
                    {"AttributeName": "pk", "AttributeType": "S"},
                    {"AttributeName": "sk", "AttributeType": "S"},
                ],
                BillingMode="PAY_PER_REQUEST",
            )
            client.put_item(TableName="t", Item=KEY | {"n": {"N": "0"}})
            yield client
    finally:
        for patch in patches:
            patch.stop()


def test_a_write_waits_while_another_request_is_copying_the_item(dynamodb: Any) -> None:
    # Given an UpdateItem held inside moto's handler where it reads the item it is about to copy
    original_get_item = DynamoDBBackend.get_item
    reading, release = threading.Event(), threading.Event()

    def held_get_item(backend: Any, *args: Any, **kwargs: Any) -> Any:
        if not reading.is_set():
            reading.set()
            assert release.wait(10)
        return original_get_item(backend, *args, **kwargs)

    update = {"UpdateExpression": "SET n = n + :one", "ExpressionAttributeValues": {":one": {"N": "1"}}}
    with mock.patch.object(DynamoDBBackend, "get_item", held_get_item), ThreadPoolExecutor(max_workers=2) as pool:
        first = pool.submit(dynamodb.update_item, TableName="t", Key=KEY, **update)
        assert reading.wait(10)
        # When another thread writes the same item meanwhile
        second = pool.submit(dynamodb.put_item, TableName="t", Item=KEY | {"n": {"N": "100"}, "extra": {"S": "x"}})
        finished_while_held, _ = wait([second], timeout=0.3)
        release.set()
        first.result(timeout=10)
        second.result(timeout=10)
    # Then that write was not applied while the first request held the item, and both applied whole, in turn
    assert not finished_while_held
    assert dynamodb.get_item(TableName="t", Key=KEY)["Item"]["n"] == {"N": "100"}
