"""The local stack's IAM evaluation, call by call: what AWS refuses (items 1 and 2 of issue 11 among them)."""

from __future__ import annotations

from typing import Any

import pytest

from local_stack.iam.authorizer import AccessDenied, Authorizer
from local_stack.iam.calls import Directory
from local_stack.iam.policy import Principal, parse_document

ACCOUNT, REGION = "123456789012", "eu-central-1"
KEY = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/data"
TABLE = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/state"
MACHINE = f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:local-update-connection"
ROOT_DELEGATION = {
    "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, "Action": "kms:*", "Resource": "*"}
    ]
}


def authorizer_with(
    *statements: dict[str, Any], key_policy: dict[str, Any] = ROOT_DELEGATION
) -> tuple[Authorizer, Principal]:
    directory = Directory(ACCOUNT, REGION)
    directory.keys["data"] = directory.keys[KEY] = KEY
    directory.table_keys["state"] = KEY
    authorizer = Authorizer(directory)
    authorizer.key_policies[KEY] = parse_document("DataKey", key_policy)
    role = f"arn:aws:iam::{ACCOUNT}:role/fn"
    authorizer.principals[role] = Principal(
        role, "fn", tuple(parse_document("FnRole", {"Statement": list(statements)})), ACCOUNT
    )
    return authorizer, authorizer.principal(role, session="fn")


def call(authorizer: Authorizer, principal: Principal, service: str, operation: str, **params: Any) -> None:
    with authorizer.acting_as(principal):
        authorizer.check_call(service, operation, params)


TABLE_READ = {"Effect": "Allow", "Action": ["dynamodb:GetItem"], "Resource": TABLE}
DECRYPT_VIA_DYNAMODB = {
    "Effect": "Allow",
    "Action": ["kms:Decrypt"],
    "Resource": KEY,
    "Condition": {"StringEquals": {"kms:ViaService": f"dynamodb.{REGION}.amazonaws.com"}},
}


def test_reading_a_table_on_a_customer_managed_key_needs_kms_decrypt() -> None:
    # Given a role that may read the table but has no kms:Decrypt on the table's key (Query, Finalize, ... before)
    authorizer, principal = authorizer_with(TABLE_READ)
    # When it reads an item
    with pytest.raises(AccessDenied) as refused:
        call(authorizer, principal, "dynamodb", "GetItem", TableName="state", Key={})
    # Then DynamoDB refuses, naming the KMS action it tried with the caller's permissions
    assert refused.value.response["Error"]["Code"] == "AccessDeniedException"
    assert "KMS key access denied" in str(refused.value) and "kms:Decrypt" in str(refused.value)


def test_decrypt_granted_via_dynamodb_reads_the_table_but_decrypts_nothing_directly() -> None:
    authorizer, principal = authorizer_with(TABLE_READ, DECRYPT_VIA_DYNAMODB)
    call(authorizer, principal, "dynamodb", "GetItem", TableName="state", Key={})
    # The same grant does not let the role call KMS itself (a password ciphertext stays closed to it)
    with pytest.raises(AccessDenied):
        call(authorizer, principal, "kms", "Decrypt", KeyId=KEY, CiphertextBlob=b"x")


def test_a_key_policy_without_the_account_root_ignores_iam_grants() -> None:
    no_delegation = {
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": "arn:aws:iam::123456789012:role/admin"},
                "Action": "kms:*",
                "Resource": "*",
            }
        ]
    }
    authorizer, principal = authorizer_with(TABLE_READ, DECRYPT_VIA_DYNAMODB, key_policy=no_delegation)
    with pytest.raises(AccessDenied, match="no resource-based policy"):
        call(authorizer, principal, "dynamodb", "GetItem", TableName="state", Key={})


def test_describe_execution_needs_the_execution_resource_type() -> None:
    # Given the trigger's role before the fix: states:StartExecution on the state machine only
    start = {"Effect": "Allow", "Action": ["states:StartExecution"], "Resource": MACHINE}
    authorizer, principal = authorizer_with(start)
    execution = MACHINE.replace(":stateMachine:", ":execution:") + ":update-1"
    # When orphan recovery asks whether the update's execution exists, AWS refuses
    with pytest.raises(AccessDenied, match="states:DescribeExecution"):
        call(authorizer, principal, "states", "DescribeExecution", executionArn=execution)
    # And a grant on the state machine's executions lets it through
    find = {
        "Effect": "Allow",
        "Action": ["states:DescribeExecution"],
        "Resource": MACHINE.replace(":stateMachine:", ":execution:") + ":*",
    }
    authorizer, principal = authorizer_with(start, find)
    call(authorizer, principal, "states", "DescribeExecution", executionArn=execution)


def test_send_task_success_is_only_allowed_on_any_resource() -> None:
    on_machine = {"Effect": "Allow", "Action": ["states:SendTaskSuccess"], "Resource": MACHINE}
    authorizer, principal = authorizer_with(on_machine)
    with pytest.raises(AccessDenied):
        call(authorizer, principal, "states", "SendTaskSuccess", taskToken="t", output="{}")
    authorizer, principal = authorizer_with({"Effect": "Allow", "Action": "states:SendTaskSuccess", "Resource": "*"})
    call(authorizer, principal, "states", "SendTaskSuccess", taskToken="t", output="{}")


def test_password_grant_requires_the_owner_as_encryption_context() -> None:
    password = {
        "Effect": "Allow",
        "Action": ["kms:Decrypt"],
        "Resource": KEY,
        "Condition": {"Null": {"kms:EncryptionContext:ownerId": "false"}},
    }
    authorizer, principal = authorizer_with(password)
    call(authorizer, principal, "kms", "Decrypt", KeyId=KEY, CiphertextBlob=b"x", EncryptionContext={"ownerId": "u1"})
    with pytest.raises(AccessDenied):
        call(authorizer, principal, "kms", "Decrypt", KeyId=KEY, CiphertextBlob=b"x")


def test_an_explicit_deny_wins_over_any_allow() -> None:
    deny = {"Effect": "Deny", "Action": "dynamodb:*", "Resource": "*"}
    authorizer, principal = authorizer_with(TABLE_READ, DECRYPT_VIA_DYNAMODB, deny)
    with pytest.raises(AccessDenied, match="explicit deny"):
        call(authorizer, principal, "dynamodb", "GetItem", TableName="state", Key={})


def test_batch_sends_are_authorized_as_send_message() -> None:
    queue = f"arn:aws:sqs:{REGION}:{ACCOUNT}:schedule"
    authorizer, principal = authorizer_with({"Effect": "Allow", "Action": "sqs:SendMessage", "Resource": queue})
    url = f"http://localhost/{ACCOUNT}/schedule"
    call(authorizer, principal, "sqs", "SendMessageBatch", QueueUrl=url, Entries=[])
    with pytest.raises(AccessDenied) as refused:
        call(authorizer, principal, "sqs", "DeleteMessage", QueueUrl=url, ReceiptHandle="r")
    assert refused.value.response["Error"]["Code"] == "AccessDenied"


def test_a_call_the_local_stack_cannot_judge_fails_loudly() -> None:
    from local_stack.iam.calls import UnmodelledCall

    authorizer, principal = authorizer_with(TABLE_READ)
    with pytest.raises(UnmodelledCall):
        call(authorizer, principal, "s3", "GetObject", Bucket="b", Key="k")
