"""What tests read from a running stack where AWS keeps it out of the API's reach: the events put on the template's
buses (captured to a queue, as a test's EventBridge rule would), the executions of an Express state machine (the
stand-in for its CloudWatch log), each function's log lines; and waiting until scheduled work has settled."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

from moto.stepfunctions.parser.models import stepfunctions_parser_backends

from local_stack import express
from local_stack.lambdas.logs import LogCapture
from local_stack.template import ACCOUNT_ID, REGION, Resolver

_CAPTURE = "local-stack-event-capture"


class EventCapture:
    """Every event put on the template's buses also lands in a queue the tests can read."""

    def __init__(self, client: Callable[[str], Any], resolver: Resolver) -> None:
        self._client = client
        events = client("events")
        self._url = client("sqs").create_queue(QueueName=_CAPTURE)["QueueUrl"]
        capture_arn = f"arn:aws:sqs:{REGION}:{ACCOUNT_ID}:{_CAPTURE}"
        self._captured: list[dict[str, Any]] = []
        for (logical_id, attribute), value in resolver.attributes.items():
            if (
                attribute == "Name"
                and logical_id in resolver.refs
                and ":event-bus/" in str(resolver.attributes.get((logical_id, "Arn"), ""))
            ):
                events.put_rule(
                    Name=f"{_CAPTURE}-{logical_id}",
                    EventBusName=value,
                    EventPattern=json.dumps({"account": [ACCOUNT_ID]}),
                )
                events.put_targets(
                    Rule=f"{_CAPTURE}-{logical_id}", EventBusName=value, Targets=[{"Id": "capture", "Arn": capture_arn}]
                )

    def published(self) -> list[dict[str, Any]]:
        """Every event published so far, oldest first."""
        sqs = self._client("sqs")
        while True:
            answer = sqs.receive_message(QueueUrl=self._url, MaxNumberOfMessages=10, WaitTimeSeconds=0)
            messages = answer.get("Messages", [])
            if not messages:
                return list(self._captured)
            for message in messages:
                self._captured.append(json.loads(message["Body"]))
                sqs.delete_message(QueueUrl=self._url, ReceiptHandle=message["ReceiptHandle"])


def express_history(state_machine_arn: str) -> list[dict[str, Any]]:
    """Every execution of an Express state machine with its events."""
    backend = stepfunctions_parser_backends[ACCOUNT_ID][REGION]
    return list(express.express_history(backend, state_machine_arn))


def function_logs(capture: LogCapture, logical_id: str | None) -> list[str]:
    """What one function (or, without ``logical_id``, every function) wrote."""
    lines = capture.lines
    if logical_id is not None:
        return list(lines.get(logical_id, []))
    return [line for chunk in lines.values() for line in chunk]


def settle(client: Callable[[str], Any], queue_url: str, state_machine_arn: str, timeout: float) -> None:
    """Wait until the queue is empty and no execution of the state machine is running (TimeoutError if not)."""
    sqs, sfn = client("sqs"), client("stepfunctions")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        attributes = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["All"])["Attributes"]
        pending = int(attributes["ApproximateNumberOfMessages"])
        pending += int(attributes["ApproximateNumberOfMessagesNotVisible"])
        if (
            not pending
            and not sfn.list_executions(stateMachineArn=state_machine_arn, statusFilter="RUNNING")["executions"]
        ):
            return
        time.sleep(0.1)
    raise TimeoutError(f"scheduled work still running after {timeout} s")
