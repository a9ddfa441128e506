"""Each function's role grants exactly the actions its code uses, on named resources."""

from __future__ import annotations

from typing import Any

from tests.template.translated import translated_template

STATE_RW = {"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"}
STATE_UPDATE = {"dynamodb:GetItem", "dynamodb:UpdateItem"}
SECRET = {"secretsmanager:GetSecretValue", "kms:Decrypt"}  # the secret is encrypted with the stack's key

EXPECTED: dict[str, set[str]] = {
    "TriggerUpdateFunction": STATE_RW | SECRET | {"dynamodb:DeleteItem", "states:StartExecution", "events:PutEvents"},
    "CollectCredentialsFunction": STATE_UPDATE | SECRET | {"events:PutEvents", "states:SendTaskSuccess"},
    "QueryFunction": {"dynamodb:GetItem", "dynamodb:Query"},
    "ConnectionSettingsFunction": STATE_UPDATE,
    "AdminFunction": STATE_RW | SECRET | {"kms:Encrypt"},
    "PollUpdateStatusFunction": STATE_UPDATE | SECRET,
    "AwaitUserFunction": STATE_UPDATE | {"events:PutEvents", "states:SendTaskSuccess"},
    "FinalizeFunction": STATE_UPDATE | {"events:PutEvents"},
    "ScheduleUpdatesFunction": {"dynamodb:Query", "sqs:SendMessage"},
    "StartScheduledUpdateFunction": STATE_RW | {"states:StartExecution", "events:PutEvents"},
    "StartUnattendedUpdateFunction": STATE_UPDATE | SECRET,
}

# AWS managed policies SAM attaches by itself: CloudWatch Logs, X-Ray, and the SQS event source's receive/delete.
ALLOWED_MANAGED = {
    "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole",
    "arn:aws:iam::aws:policy/AWSXrayWriteOnlyAccess",
    "arn:aws:iam::aws:policy/service-role/AWSLambdaSQSQueueExecutionRole",
}


def _statements(role: dict[str, Any]) -> list[dict[str, Any]]:
    return [s for p in role["Properties"].get("Policies", []) for s in p["PolicyDocument"]["Statement"]]


def _actions(statement: dict[str, Any]) -> set[str]:
    action = statement["Action"]
    return set(action if isinstance(action, list) else [action])


def _managed(role: dict[str, Any]) -> set[str]:
    found = set()
    for arn in role["Properties"].get("ManagedPolicyArns", []):
        found.add(arn if isinstance(arn, str) else arn["Fn::Sub"].replace("${AWS::Partition}", "aws"))
    return found


def test_each_function_role_grants_exactly_what_it_uses() -> None:
    resources = translated_template()["Resources"]
    for function, expected in EXPECTED.items():
        role = resources[f"{function}Role"]
        granted = set().union(*(_actions(s) for s in _statements(role)))
        assert granted == expected, f"{function}: extra {granted - expected}, missing {expected - granted}"
        assert _managed(role) <= ALLOWED_MANAGED, function


def test_no_wildcard_actions_or_resources_in_our_policies() -> None:
    resources = translated_template()["Resources"]
    roles = {k: v for k, v in resources.items() if v["Type"] == "AWS::IAM::Role"}
    assert len(roles) >= len(EXPECTED)
    for name, role in roles.items():
        for statement in _statements(role):
            assert all(not a.endswith(":*") and a != "*" for a in _actions(statement)), (name, statement)
            if statement["Action"] and all(a.startswith("logs:") for a in _actions(statement)):
                # Step Functions log delivery: AWS documents these actions as resource "*" only.
                assert name == "UpdateConnectionStateMachineRole"
                continue
            assert statement["Resource"] != "*", (name, statement)


def test_every_function_in_the_template_is_covered() -> None:
    resources = translated_template()["Resources"]
    functions = {k for k, v in resources.items() if v["Type"] == "AWS::Lambda::Function"}
    assert functions == set(EXPECTED)
