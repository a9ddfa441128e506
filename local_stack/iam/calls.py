"""What AWS authorizes for one API call: the IAM action(s) on the resource(s) it names, and the KMS calls the service
then makes with the caller's permissions (DynamoDB tables, Secrets Manager secrets and SQS queues on a KMS key)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from local_stack.iam.policy import Request

# AWS-managed keys: the service's key policy lets every principal of the account use it through that service.
AWS_MANAGED_KEY_ALIASES = ("alias/aws/sqs", "alias/aws/dynamodb", "alias/aws/secretsmanager")


@dataclass(frozen=True)
class Authorization:
    request: Request
    key_arn: str | None = None  # a KMS request: the key's policy takes part
    resource_arn: str | None = None  # whose resource-based policy takes part (Lambda permissions)
    via: str | None = None  # the service that made this KMS call for the caller (shapes AWS's error)


class UnmodelledCall(RuntimeError):
    """A call the local stack cannot authorize as AWS would: add it here rather than let it through unchecked."""


@dataclass
class Directory:
    """The stack's resources as IAM sees them: ARNs, and which KMS key protects what."""

    account: str
    region: str
    table_keys: dict[str, str | None] = field(default_factory=dict)  # table name -> key ARN (None: AWS owned)
    secrets: dict[str, str] = field(default_factory=dict)  # secret name or ARN -> ARN
    secret_keys: dict[str, str | None] = field(default_factory=dict)  # secret ARN -> key ARN
    queue_keys: dict[str, str | None] = field(default_factory=dict)  # queue ARN -> key ARN
    keys: dict[str, str] = field(default_factory=dict)  # key id, key ARN, alias name or alias ARN -> key ARN

    def __post_init__(self) -> None:
        for alias in AWS_MANAGED_KEY_ALIASES:
            self.keys[alias] = self.managed_key_arn(alias)

    def managed_key_arn(self, alias: str) -> str:
        return self.arn("kms", f"key/aws-managed-{alias.rsplit('/', 1)[-1]}")

    def arn(self, service: str, rest: str) -> str:
        return f"arn:aws:{service}:{self.region}:{self.account}:{rest}"

    def key(self, key_id: str) -> str:
        found = self.keys.get(key_id) or self.keys.get(key_id.split(":", 5)[-1] if key_id.startswith("arn:") else "")
        if found is None:
            raise UnmodelledCall(f"KMS key {key_id} is not one of the stack's")
        return found

    def queue_arn(self, url: str) -> str:
        return self.arn("sqs", url.rstrip("/").rsplit("/", 1)[-1])

    def table_arn(self, name: str) -> str:
        return self.arn("dynamodb", f"table/{name.rsplit('/', 1)[-1]}")


def _kms(directory: Directory, action: str, key_arn: str, service: str, context: Mapping[str, str]) -> Authorization:
    keys: dict[str, Any] = {
        "kms:viaservice": f"{service}.{directory.region}.amazonaws.com",
        "kms:calleraccount": directory.account,
    }
    keys |= {f"kms:encryptioncontext:{k}".lower(): v for k, v in context.items()}
    keys["kms:encryptioncontextkeys"] = tuple(context)
    return Authorization(Request(action, key_arn, keys), key_arn=key_arn, via=service)


# ------------------------------------------------------------------------------------------------ DynamoDB

_DYNAMODB_ITEM_OPS = {"GetItem", "PutItem", "UpdateItem", "DeleteItem", "Query", "Scan", "ConditionCheckItem"}
_TRANSACT = {"Put": "PutItem", "Update": "UpdateItem", "Delete": "DeleteItem", "ConditionCheck": "ConditionCheckItem"}


def _table_access(directory: Directory, action: str, table: str, index: str | None = None) -> Iterator[Authorization]:
    arn = directory.table_arn(table)
    yield Authorization(Request(f"dynamodb:{action}", f"{arn}/index/{index}" if index else arn))
    key = directory.table_keys.get(table.rsplit("/", 1)[-1])
    if key is not None:  # DynamoDB decrypts the table key with the caller's credentials
        context = {"aws:dynamodb:tableName": table.rsplit("/", 1)[-1], "aws:dynamodb:subscriberId": directory.account}
        yield _kms(directory, "kms:Decrypt", key, "dynamodb", context)


def _dynamodb(directory: Directory, operation: str, params: Mapping[str, Any]) -> Iterator[Authorization]:
    if operation in _DYNAMODB_ITEM_OPS:
        yield from _table_access(directory, operation, params["TableName"], params.get("IndexName"))
    elif operation in ("BatchGetItem", "BatchWriteItem"):
        for table in params["RequestItems"]:
            yield from _table_access(directory, operation, table)
    elif operation in ("TransactWriteItems", "TransactGetItems"):
        for item in params["TransactItems"]:
            ((kind, body),) = item.items()
            yield from _table_access(directory, _TRANSACT.get(kind, "GetItem"), body["TableName"])
    elif operation == "DescribeTable":
        yield Authorization(Request("dynamodb:DescribeTable", directory.table_arn(params["TableName"])))
    else:
        raise UnmodelledCall(f"dynamodb {operation}")


# ------------------------------------------------------------------------------------------------ KMS


def _kms_direct(directory: Directory, operation: str, params: Mapping[str, Any]) -> Iterator[Authorization]:
    if operation not in ("Encrypt", "Decrypt", "GenerateDataKey", "GenerateDataKeyWithoutPlaintext", "DescribeKey"):
        raise UnmodelledCall(f"kms {operation}")
    if "KeyId" not in params:
        raise UnmodelledCall("kms Decrypt without KeyId (the key would come from the ciphertext)")
    key = directory.key(str(params["KeyId"]))
    context = dict(params.get("EncryptionContext") or {})
    keys: dict[str, Any] = {f"kms:encryptioncontext:{k}".lower(): v for k, v in context.items()}
    keys |= {"kms:calleraccount": directory.account, "kms:encryptioncontextkeys": tuple(context)}
    yield Authorization(Request(f"kms:{operation}", key, keys), key_arn=key)


# ------------------------------------------------------------------------------------------------ Secrets Manager


def _secretsmanager(directory: Directory, operation: str, params: Mapping[str, Any]) -> Iterator[Authorization]:
    if operation not in ("GetSecretValue", "DescribeSecret"):
        raise UnmodelledCall(f"secretsmanager {operation}")
    secret = directory.secrets.get(str(params["SecretId"]))
    if secret is None:
        raise UnmodelledCall(f"secret {params['SecretId']} is not one of the stack's")
    yield Authorization(Request(f"secretsmanager:{operation}", secret))
    key = directory.secret_keys.get(secret)
    if operation == "GetSecretValue" and key is not None:
        yield _kms(directory, "kms:Decrypt", key, "secretsmanager", {"SecretARN": secret})


# ------------------------------------------------------------------------------------------------ SQS

_SQS_ACTIONS = {
    "SendMessage": "SendMessage",
    "SendMessageBatch": "SendMessage",
    "ReceiveMessage": "ReceiveMessage",
    "DeleteMessage": "DeleteMessage",
    "DeleteMessageBatch": "DeleteMessage",
    "ChangeMessageVisibility": "ChangeMessageVisibility",
    "ChangeMessageVisibilityBatch": "ChangeMessageVisibility",
    "GetQueueAttributes": "GetQueueAttributes",
}


def _sqs(directory: Directory, operation: str, params: Mapping[str, Any]) -> Iterator[Authorization]:
    action = _SQS_ACTIONS.get(operation)
    if action is None:
        raise UnmodelledCall(f"sqs {operation}")
    queue = directory.queue_arn(str(params["QueueUrl"]))
    yield Authorization(Request(f"sqs:{action}", queue))
    key = directory.queue_keys.get(queue)
    if key is not None and action == "SendMessage":  # the producer makes the data key, the consumer decrypts it
        yield _kms(directory, "kms:GenerateDataKey", key, "sqs", {"aws:sqs:arn": queue})
        yield _kms(directory, "kms:Decrypt", key, "sqs", {"aws:sqs:arn": queue})
    elif key is not None and action == "ReceiveMessage":
        yield _kms(directory, "kms:Decrypt", key, "sqs", {"aws:sqs:arn": queue})


# ------------------------------------------------------------------------------------------------ Step Functions

_BY_MACHINE = {"StartExecution", "StartSyncExecution", "ListExecutions", "DescribeStateMachine"}
_BY_EXECUTION = {"DescribeExecution", "StopExecution", "GetExecutionHistory", "DescribeStateMachineForExecution"}
# IAM has no resource type for these: only a statement on "*" allows them.
_NO_RESOURCE = {"SendTaskSuccess", "SendTaskFailure", "SendTaskHeartbeat"}


def _states(directory: Directory, operation: str, params: Mapping[str, Any]) -> Iterator[Authorization]:
    if operation in _BY_MACHINE:
        yield Authorization(Request(f"states:{operation}", str(params["stateMachineArn"])))
    elif operation in _BY_EXECUTION:
        yield Authorization(Request(f"states:{operation}", str(params["executionArn"])))
    elif operation in _NO_RESOURCE:
        yield Authorization(Request(f"states:{operation}", "*"))
    else:
        raise UnmodelledCall(f"states {operation}")


# ------------------------------------------------------------------------------------------------ EventBridge, Lambda


def _events(directory: Directory, operation: str, params: Mapping[str, Any]) -> Iterator[Authorization]:
    if operation != "PutEvents":
        raise UnmodelledCall(f"events {operation}")
    for entry in params["Entries"]:
        bus = str(entry.get("EventBusName") or "default")
        arn = bus if bus.startswith("arn:") else directory.arn("events", f"event-bus/{bus}")
        context = {
            "events:source": str(entry.get("Source", "")),
            "events:detail-type": str(entry.get("DetailType", "")),
        }
        yield Authorization(Request("events:PutEvents", arn, context))


def function_arn(directory: Directory, name: str, qualifier: str | None = None) -> str:
    arn = name if name.startswith("arn:") else directory.arn("lambda", f"function:{name}")
    return f"{arn}:{qualifier}" if qualifier else arn


def _lambda(directory: Directory, operation: str, params: Mapping[str, Any]) -> Iterator[Authorization]:
    if operation != "Invoke":
        raise UnmodelledCall(f"lambda {operation}")
    arn = function_arn(directory, str(params["FunctionName"]), params.get("Qualifier"))
    unqualified = ":".join(arn.split(":")[:7])  # a function's permissions cover its versions and aliases
    yield Authorization(Request("lambda:InvokeFunction", arn), resource_arn=unqualified)


def _ssm(directory: Directory, operation: str, params: Mapping[str, Any]) -> Iterator[Authorization]:
    if operation != "GetParameter":
        raise UnmodelledCall(f"ssm {operation}")
    name = str(params["Name"])
    # A parameter's ARN has no slash between "parameter" and a name that starts with one.
    arn = name if name.startswith("arn:") else directory.arn("ssm", f"parameter/{name.lstrip('/')}")
    yield Authorization(Request("ssm:GetParameter", arn))


def _unauthenticated(directory: Directory, operation: str, params: Mapping[str, Any]) -> Iterator[Authorization]:
    return iter(())  # sts:GetCallerIdentity needs no permission


_SERVICES: dict[str, Callable[[Directory, str, Mapping[str, Any]], Iterator[Authorization]]] = {
    "dynamodb": _dynamodb,
    "kms": _kms_direct,
    "secretsmanager": _secretsmanager,
    "sqs": _sqs,
    "states": _states,
    "events": _events,
    "lambda": _lambda,
    "ssm": _ssm,
    "sts": _unauthenticated,
}


def authorizations(
    directory: Directory, service: str, operation: str, params: Mapping[str, Any]
) -> list[Authorization]:
    handler = _SERVICES.get(service)
    if handler is None or (service == "sts" and operation != "GetCallerIdentity"):
        raise UnmodelledCall(f"{service} {operation}")
    return list(handler(directory, operation, params))
