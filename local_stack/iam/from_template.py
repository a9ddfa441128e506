"""The authorizer for one stack: roles, key policies and Lambda permissions as the translated template defines them,
with every intrinsic resolved to the stack's physical names."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from functools import cache
from typing import Any

from moto.iam.aws_managed_policies import aws_managed_policies_data

from local_stack.iam.authorizer import Authorizer
from local_stack.iam.calls import AWS_MANAGED_KEY_ALIASES, Directory, function_arn
from local_stack.iam.policy import Principal, Statement, parse_document

Resources = Mapping[str, Mapping[str, Any]]


@cache
def _aws_managed() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(aws_managed_policies_data)
    return data


def managed_policy(arn: str) -> Mapping[str, Any]:
    name = arn.rsplit("/", 1)[-1]
    if not arn.startswith("arn:aws:iam::aws:policy/") or name not in _aws_managed():
        raise ValueError(f"managed policy {arn} is not an AWS managed policy the local stack knows")
    document: Mapping[str, Any] = _aws_managed()[name]["Document"]
    return document


def _managed_key_policy(service: str, directory: Directory) -> list[Statement]:
    """What AWS puts in the key policy of ``aws/<service>``: any principal of the account, through that service."""
    return parse_document(
        f"aws/{service} key policy",
        {
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"AWS": "*"},
                    "Action": [
                        "kms:Encrypt",
                        "kms:Decrypt",
                        "kms:ReEncrypt*",
                        "kms:GenerateDataKey*",
                        "kms:DescribeKey",
                    ],
                    "Resource": "*",
                    "Condition": {
                        "StringEquals": {
                            "kms:CallerAccount": directory.account,
                            "kms:ViaService": f"{service}.{directory.region}.amazonaws.com",
                        }
                    },
                }
            ]
        },
    )


def role_statements(logical_id: str, properties: Mapping[str, Any]) -> list[Statement]:
    statements: list[Statement] = []
    for policy in properties.get("Policies", []):
        statements += parse_document(f"{logical_id}/{policy['PolicyName']}", policy["PolicyDocument"])
    for arn in properties.get("ManagedPolicyArns", []):
        statements += parse_document(f"{logical_id}/aws-managed:{arn.rsplit('/', 1)[-1]}", managed_policy(arn))
    return statements


def _permission(logical_id: str, properties: Mapping[str, Any], directory: Directory) -> tuple[str, Statement]:
    """An AWS::Lambda::Permission as the statement Lambda adds to the function's resource-based policy."""
    target = function_arn(directory, str(properties["FunctionName"]))
    raw: dict[str, Any] = {
        "Effect": "Allow",
        "Principal": {"Service": properties["Principal"]}
        if str(properties["Principal"]).endswith(".amazonaws.com")
        else {"AWS": properties["Principal"]},
        "Action": properties["Action"],
        "Resource": target,
    }
    conditions: dict[str, dict[str, str]] = {}
    if "SourceArn" in properties:
        conditions["ArnLike"] = {"aws:SourceArn": properties["SourceArn"]}
    if "SourceAccount" in properties:
        conditions["StringEquals"] = {"aws:SourceAccount": properties["SourceAccount"]}
    if conditions:
        raw["Condition"] = conditions
    return target, Statement.parse(f"{logical_id}/permission", raw)


def build_authorizer(
    resources: Resources, resolve: Callable[[Any], Any], refs: Mapping[str, str], directory: Directory
) -> Authorizer:
    """``resources`` are the translated template's (conditions applied); ``refs`` the physical ids created."""
    authorizer = Authorizer(directory)
    for alias in AWS_MANAGED_KEY_ALIASES:
        authorizer.key_policies[directory.managed_key_arn(alias)] = _managed_key_policy(
            alias.rsplit("/", 1)[-1], directory
        )
    for logical_id, resource in resources.items():
        kind, properties = resource["Type"], resolve(resource.get("Properties", {}))
        if kind == "AWS::KMS::Key":
            arn = directory.keys[refs[logical_id]]
            authorizer.key_policies[arn] = parse_document(f"{logical_id}/KeyPolicy", properties["KeyPolicy"])
        elif kind == "AWS::IAM::Role":
            arn = f"arn:aws:iam::{directory.account}:role/{refs[logical_id]}"
            statements = tuple(role_statements(logical_id, properties))
            authorizer.principals[arn] = Principal(arn, logical_id, statements, directory.account)
        elif kind == "AWS::Lambda::Permission":
            target, statement = _permission(logical_id, properties, directory)
            authorizer.resource_policies.setdefault(target, []).append(statement)
    return authorizer
