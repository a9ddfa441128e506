"""EventBridge Scheduler schedules and EventBridge scheduled rules, fired when a test (or the demo) asks: the target is
invoked with the schedule's role (a rule's with events.amazonaws.com, by the target's resource policy), and an
invocation AWS would refuse goes to the schedule's dead-letter queue, sent with that role too.

Nothing fires on its own: tests decide when a schedule's time has come. The delivery is synchronous and its result
returned, where AWS invokes asynchronously (and retries)."""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from local_stack.iam.authorizer import Authorizer
from local_stack.iam.calls import Authorization
from local_stack.iam.policy import Request
from local_stack.template import ACCOUNT_ID, REGION


@dataclass(frozen=True)
class Schedule:
    target_arn: str
    payload: Any
    role_arn: str | None  # EventBridge Scheduler invokes with this role; rules as events.amazonaws.com
    dead_letter_arn: str | None


class ScheduleNotDelivered(RuntimeError):
    """The scheduler could not invoke its target (the event went to the dead-letter queue, if there is one)."""


def scheduler_schedule(resolved: dict[str, Any]) -> Schedule:
    """An ``AWS::Scheduler::Schedule`` (its properties resolved)."""
    target = resolved["Target"]
    dead_letter = (target.get("DeadLetterConfig") or {}).get("Arn")
    return Schedule(str(target["Arn"]), target.get("Input"), target["RoleArn"], dead_letter)


def rule_schedules(resolved: dict[str, Any]) -> list[Schedule]:
    """The targets of an ``AWS::Events::Rule`` if it is a scheduled one (its properties resolved)."""
    if "ScheduleExpression" not in resolved:
        return []
    return [
        Schedule(
            str(target["Arn"]),
            target.get("Input"),
            target.get("RoleArn"),
            (target.get("DeadLetterConfig") or {}).get("Arn"),
        )
        for target in resolved.get("Targets", [])
    ]


class Scheduler:
    def __init__(
        self,
        schedules: dict[str, Schedule],
        authorizer: Authorizer,
        client: Callable[[str], Any],
        invoke_function: Callable[[str, Any], Any],
    ) -> None:
        """``schedules`` by logical id and by name; ``invoke_function`` invokes a function by its ARN."""
        self._schedules = schedules
        self._authorizer = authorizer
        self._client = client
        self._invoke_function = invoke_function

    def fire(self, logical_id_or_name: str) -> Any:
        schedule = self._schedules[logical_id_or_name]
        target_arn, payload = schedule.target_arn, schedule.payload
        event = json.loads(payload) if isinstance(payload, str) else payload
        if event is None:
            event = {
                "version": "0",
                "id": secrets.token_hex(16),
                "detail-type": "Scheduled Event",
                "source": "aws.scheduler",
                "account": ACCOUNT_ID,
                "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                "region": REGION,
                "resources": [f"arn:aws:scheduler:{REGION}:{ACCOUNT_ID}:schedule/default/{logical_id_or_name}"],
                "detail": "{}",
            }
        self._deliverable(schedule, event)
        if ":states:" in target_arn:
            return self._client("stepfunctions").start_execution(stateMachineArn=target_arn, input=json.dumps(event))
        return self._invoke_function(target_arn, event)

    def _deliverable(self, schedule: Schedule, event: Any) -> None:
        """The scheduler invokes with its role (a rule as events.amazonaws.com, by the target's resource policy);
        an invocation AWS refuses goes to the dead-letter queue, sent with that role too."""
        action = "states:StartExecution" if ":states:" in schedule.target_arn else "lambda:InvokeFunction"
        request = Request(action, schedule.target_arn)
        if schedule.role_arn is None:
            principal = None
            decision = self._authorizer.service_may("events.amazonaws.com", request, schedule.target_arn)
        else:
            principal = self._authorizer.principal(schedule.role_arn, session="scheduler")
            decision = self._authorizer.decide(principal, Authorization(request, resource_arn=schedule.target_arn))
        if decision.allowed:
            return
        if schedule.dead_letter_arn is not None:
            sqs = self._client("sqs")
            url = sqs.get_queue_url(QueueName=schedule.dead_letter_arn.rsplit(":", 1)[-1])["QueueUrl"]
            with self._authorizer.acting_as(principal):
                sqs.send_message(QueueUrl=url, MessageBody=json.dumps(event))
        raise ScheduleNotDelivered(f"{action} on {schedule.target_arn} refused: {decision.why}")
