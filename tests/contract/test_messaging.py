"""The message ports: DueQueue on SQS, EventBus on EventBridge (moto), and the fakes the use-case suite reads
instead, held to what the use cases rely on."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest

from bankupdate.contract import DueConnection
from bankupdate.domain.events import ConsentExpiringSoon
from bankupdate.ports import DueQueue, EventBus
from tests.contract.conftest import REGION
from tests.fakes import RecordingDueQueue, RecordingEventBus

NOW = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)


def _drain(sqs: Any, url: str) -> list[str]:
    bodies: list[str] = []
    while messages := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
        bodies += [m["Body"] for m in messages]
        sqs.delete_message_batch(
            QueueUrl=url, Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)]
        )
    return bodies


@dataclass
class Sent:
    """A port and what its receiving side sees now (JSON bodies as they arrive)."""

    port: Any
    arrived: Callable[[], list[str]]


@pytest.fixture(params=["in-memory", "sqs"])
def due_queue(request: pytest.FixtureRequest) -> Sent:
    if request.param == "in-memory":
        fake = RecordingDueQueue()
        return Sent(fake, lambda: [m.model_dump_json(by_alias=True) for m in fake.sent])
    from bankupdate.stores.queue import SqsDueQueue

    request.getfixturevalue("aws")
    sqs = boto3.client("sqs", region_name=REGION)
    url = sqs.create_queue(QueueName="schedule")["QueueUrl"]
    return Sent(SqsDueQueue(url), lambda: _drain(sqs, url))


def test_due_connections_go_out_in_batches_of_ten(due_queue: Sent) -> None:
    port: DueQueue = due_queue.port
    # Given 25 due connections
    due = [DueConnection(owner_id="user-1", connection_id=n, slot=NOW) for n in range(1, 26)]
    # When they are sent
    sent, calls = port.send_all(iter(due))
    # Then all arrive, each once, in three calls
    assert (sent, calls) == (25, 3)
    arrived = sorted(DueConnection.model_validate_json(body).connection_id for body in due_queue.arrived())
    assert arrived == list(range(1, 26))


@pytest.mark.usefixtures("aws")
def test_a_held_back_message_is_not_delivered_before_its_delay() -> None:
    from bankupdate.stores.queue import SqsDueQueue

    # Given the SQS queue and three due connections, the third held back a minute
    sqs = boto3.client("sqs", region_name=REGION)
    url = sqs.create_queue(QueueName="paced")["QueueUrl"]
    due = [DueConnection(owner_id="user-1", connection_id=n, slot=NOW) for n in (1, 2, 3)]
    # When they are sent with their delays
    SqsDueQueue(url).send_all(iter(due), delay_of=lambda i: 60 if i == 2 else 0)
    # Then only the first two can be received now
    arrived = sorted(DueConnection.model_validate_json(body).connection_id for body in _drain(sqs, url))
    assert arrived == [1, 2]


@pytest.mark.usefixtures("aws")
def test_what_is_waiting_counts_held_back_and_received_messages_until_deleted() -> None:
    from bankupdate.stores.queue import SqsDueQueue

    # Given the SQS queue with five due connections sent, two of them held back a minute
    sqs = boto3.client("sqs", region_name=REGION)
    url = sqs.create_queue(QueueName="backlog")["QueueUrl"]
    queue = SqsDueQueue(url)
    due = [DueConnection(owner_id="user-1", connection_id=n, slot=NOW) for n in range(1, 6)]
    queue.send_all(iter(due), delay_of=lambda i: 60 if i >= 3 else 0)
    # When the consumer receives the three visible ones, then deletes two of them
    received = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    in_flight = queue.waiting()
    for message in received[:2]:
        sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    # Then all five wait while none is handled, and three once two are: received-only and held-back ones count
    assert (len(received), in_flight, queue.waiting()) == (3, 5, 3)


def test_nothing_due_sends_nothing(due_queue: Sent) -> None:
    assert due_queue.port.send_all(iter([])) == (0, 0)
    assert due_queue.arrived() == []


@pytest.fixture(params=["in-memory", "eventbridge"])
def bus(request: pytest.FixtureRequest) -> Sent:
    if request.param == "in-memory":
        fake = RecordingEventBus()
        return Sent(fake, lambda: [json.dumps({"detail-type": t, "detail": d}) for t, d in fake.details])
    from bankupdate.stores.events import EventBridgeBus

    request.getfixturevalue("aws")
    sqs, events = boto3.client("sqs", region_name=REGION), boto3.client("events", region_name=REGION)
    url = sqs.create_queue(QueueName="events")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.create_event_bus(Name="bank-updates")
    events.put_rule(
        Name="all", EventBusName="bank-updates", EventPattern=json.dumps({"source": ["finapi.bank-update"]})
    )
    events.put_targets(Rule="all", EventBusName="bank-updates", Targets=[{"Id": "queue", "Arn": arn}])

    def arrived() -> list[str]:
        return [json.dumps({k: json.loads(b)[k] for k in ("detail-type", "detail")}) for b in _drain(sqs, url)]

    return Sent(EventBridgeBus("bank-updates", "finapi.bank-update"), arrived)


def test_an_event_arrives_with_its_detail_type_and_camel_case_detail(bus: Sent) -> None:
    port: EventBus = bus.port
    # When an event is published
    port.publish(ConsentExpiringSoon(owner_id="user-1", connection_id=7, consent_expires_at=NOW))
    # Then consumers get it under its detail type, the detail in the API's camelCase
    (arrived,) = [json.loads(body) for body in bus.arrived()]
    assert arrived["detail-type"] == "BankConnection ConsentExpiring"
    assert arrived["detail"] == {"ownerId": "user-1", "connectionId": 7, "consentExpiresAt": "2026-11-24T10:00:00Z"}


@pytest.mark.usefixtures("aws")
def test_a_received_message_told_to_come_back_later_is_not_delivered_before_then() -> None:
    from bankupdate.stores.queue import SqsDueQueue

    # Given the SQS queue with a visibility timeout of 0 s and a due connection received from it
    sqs = boto3.client("sqs", region_name=REGION)
    url = sqs.create_queue(QueueName="refused", Attributes={"VisibilityTimeout": "0"})["QueueUrl"]
    port = SqsDueQueue(url)
    port.send_all(iter([DueConnection(owner_id="user-1", connection_id=7, slot=NOW)]))
    (message,) = sqs.receive_message(QueueUrl=url)["Messages"]
    # When the consumer tells it to come back in a minute (its start was refused for rate)
    port.come_back_in(message["ReceiptHandle"], 60)
    # Then it is not delivered now, though the queue's own visibility timeout has passed; and it is still there
    assert sqs.receive_message(QueueUrl=url).get("Messages", []) == []
    assert port.waiting() == 1
