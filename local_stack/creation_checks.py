"""What AWS checks when it creates the template's resources, so that a template it would refuse fails here too
(``DeploymentRefused``, what CloudFormation reports as a failed resource): who may assume each role, and what the role
of a logging state machine and of an SQS event source must be allowed."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from local_stack.iam.authorizer import Authorizer
from local_stack.iam.calls import Authorization, Directory
from local_stack.iam.policy import Request
from local_stack.lambdas.function import LocalFunction
from local_stack.template import Resolver

# What Step Functions checks on the role of a state machine that logs to CloudWatch Logs (at create time).
_LOG_DELIVERY_ACTIONS = (
    "logs:CreateLogDelivery",
    "logs:GetLogDelivery",
    "logs:UpdateLogDelivery",
    "logs:DeleteLogDelivery",
    "logs:ListLogDeliveries",
    "logs:PutResourcePolicy",
    "logs:DescribeResourcePolicies",
    "logs:DescribeLogGroups",
)
# What Lambda checks on the execution role when it creates an SQS event source mapping.
_SQS_POLLING_ACTIONS = ("sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes")


class DeploymentRefused(RuntimeError):
    """What CloudFormation would report as a failed resource: AWS refused to create it as the template has it."""


def check_service_roles(
    resources: dict[str, Any],
    resolver: Resolver,
    authorizer: Authorizer,
    directory: Directory,
    logging_machines: Iterable[tuple[str, str]],
    queue_pollers: Iterable[tuple[str, LocalFunction]],
) -> None:
    """``logging_machines``: (logical id, role ARN) of each state machine that logs; ``queue_pollers``: (queue URL,
    function) of each SQS event source mapping."""
    for logical_id, resource in resources.items():
        props = resolver.resolve(resource.get("Properties", {}))
        kind = resource["Type"]
        if kind == "AWS::Lambda::Function":
            _require_trust(resolver, logical_id, str(props["Role"]), "lambda.amazonaws.com")
        elif kind == "AWS::StepFunctions::StateMachine":
            _require_trust(resolver, logical_id, str(props["RoleArn"]), "states.amazonaws.com")
        elif kind == "AWS::Scheduler::Schedule":
            _require_trust(resolver, logical_id, str(props["Target"]["RoleArn"]), "scheduler.amazonaws.com")
    for logical_id, role in logging_machines:
        principal = authorizer.principal(role, session="states")
        for action in _LOG_DELIVERY_ACTIONS:
            if not authorizer.decide(principal, Authorization(Request(action, "*"))).allowed:
                raise DeploymentRefused(
                    f"{logical_id}: The state machine IAM Role is not authorized to access the Log Destination "
                    f"({action})"
                )
    for queue_url, function in queue_pollers:
        queue = directory.queue_arn(queue_url)
        principal = authorizer.principal(function.role_arn, session=function.name)
        for action in _SQS_POLLING_ACTIONS:
            if not authorizer.decide(principal, Authorization(Request(action, queue))).allowed:
                raise DeploymentRefused(
                    f"{function.logical_id}: The provided execution role does not have permissions to call "
                    f"{action.split(':')[1]} on SQS"
                )


def _require_trust(resolver: Resolver, logical_id: str, role_arn: str, service: str) -> None:
    role = next((lid for lid, name in resolver.refs.items() if role_arn.endswith(f":role/{name}")), None)
    trust = (
        resolver.resolve(resolver.template["Resources"][role]["Properties"]["AssumeRolePolicyDocument"]) if role else {}
    )
    for statement in trust.get("Statement", []):
        services = statement.get("Principal", {}).get("Service", [])
        actions = statement.get("Action", [])
        if (
            statement.get("Effect") == "Allow"
            and service in (services if isinstance(services, list) else [services])
            and "sts:AssumeRole" in (actions if isinstance(actions, list) else [actions])
        ):
            return
    raise DeploymentRefused(f"{logical_id}: the role {role_arn} cannot be assumed by {service}")
