"""The AWS quotas this system meets most, with their documented defaults, sources and the error a refused call gets.

``SPECS`` holds each quota with the default of AWS's "all other Regions" (eu-central-1 is one of them for Step
Functions); ``REGIONAL_DEFAULTS`` what differs per Region. A rate quota is a token bucket (``size`` tokens,
``refill_per_second``); where AWS documents a plain per-second rate (KMS, EventBridge, Secrets Manager), the bucket
holds one second of it. A concurrency quota is a pool of ``size`` executions. Where AWS does not refuse a call but
delays it (Step Functions state transitions: the ``ExecutionThrottled`` metric), ``refusal.delays`` says so.

Every default here was read from the page in ``source`` (or the file of this repository it names); the note says
where the page's own source was read when the page itself could not be. AWS changes defaults without notice (Step
Functions: "may increase both the bucket size and refill rate at any time"; new accounts start lower): the Service
Quotas console of the account is the authority.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class QuotaKind(StrEnum):
    RATE = "rate"  # a token bucket
    CONCURRENCY = "concurrency"  # a pool of simultaneous executions


@dataclass(frozen=True)
class Refusal:
    """What AWS answers a call refused by a quota (``delays``: it is not refused but held back)."""

    service: str
    error_code: str
    http_status: int
    message: str
    delays: bool = False


@dataclass(frozen=True)
class QuotaSpec:
    key: str
    service: str
    description: str
    kind: QuotaKind
    size: float  # bucket size (rate) or limit (concurrency)
    refill_per_second: float  # 0 for a concurrency limit
    refusal: Refusal
    source: str
    adjustable: bool
    note: str = ""
    reserved: bool = False  # a function's reserved concurrency: its own pool, taken out of the account's


SFN_QUOTAS = "https://docs.aws.amazon.com/step-functions/latest/dg/service-quotas.html"
SFN_SOURCE_NOTE = (
    "read in the guide's published source, awsdocs/aws-step-functions-developer-guide doc_source/limits.md "
    "(Standard) and express-limits.md (Express); 'AWS Step Functions may increase both the bucket size and refill "
    "rate at any time'"
)
_SFN_THROTTLED = Refusal("states", "ThrottlingException", 400, "Rate exceeded")
_LAMBDA_THROTTLED = Refusal(
    "lambda", "TooManyRequestsException", 429, "Rate Exceeded. (Reason: ConcurrentInvocationLimitExceeded)"
)

_ALL = (
    QuotaSpec(
        "stepfunctions.StartExecution.standard", "states", "StartExecution of a Standard state machine",
        QuotaKind.RATE, 800, 150, _SFN_THROTTLED, SFN_QUOTAS, True, SFN_SOURCE_NOTE,
    ),
    QuotaSpec(
        "stepfunctions.StartExecution.express", "states",
        "StartExecution of an Express state machine (the Poll task starts each poll loop through it)",
        QuotaKind.RATE, 6000, 6000, _SFN_THROTTLED, SFN_QUOTAS, True, SFN_SOURCE_NOTE,
    ),
    QuotaSpec(
        "stepfunctions.SendTaskSuccess", "states", "SendTaskSuccess", QuotaKind.RATE, 1500, 300, _SFN_THROTTLED,
        SFN_QUOTAS, True, SFN_SOURCE_NOTE,
    ),
    QuotaSpec(
        "stepfunctions.SendTaskFailure", "states", "SendTaskFailure", QuotaKind.RATE, 1500, 300, _SFN_THROTTLED,
        SFN_QUOTAS, True, SFN_SOURCE_NOTE,
    ),
    QuotaSpec(
        "stepfunctions.SendTaskHeartbeat", "states", "SendTaskHeartbeat", QuotaKind.RATE, 1500, 300, _SFN_THROTTLED,
        SFN_QUOTAS, True, SFN_SOURCE_NOTE,
    ),
    QuotaSpec(
        "stepfunctions.DescribeExecution", "states",
        "DescribeExecution (the reconciler's check of an open update a workflow has reached)", QuotaKind.RATE, 250, 10,
        _SFN_THROTTLED, SFN_QUOTAS, True, SFN_SOURCE_NOTE,
    ),
    QuotaSpec(
        "stepfunctions.StateTransition.standard", "states", "state transitions of Standard executions",
        QuotaKind.RATE, 800, 500,
        Refusal("states", "ExecutionThrottled", 0, "transition held back (CloudWatch ExecutionThrottled)", True),
        SFN_QUOTAS, True, SFN_SOURCE_NOTE + "; Express transitions are unlimited; new accounts start lower",
    ),
    QuotaSpec(
        "lambda.concurrency", "lambda", "concurrent executions of all functions of the account in the Region",
        QuotaKind.CONCURRENCY, 1000, 0, _LAMBDA_THROTTLED,
        "https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html", True,
        "shared with every other workload of the account and Region; new accounts start lower",
    ),
    QuotaSpec(
        "lambda.scaling", "lambda",
        "new execution environments of one function: 1,000 every 10 seconds, refilled continuously, never more",
        QuotaKind.RATE, 1000, 100,
        _LAMBDA_THROTTLED, "https://docs.aws.amazon.com/lambda/latest/dg/scaling-behavior.html", False, "per function",
    ),
    QuotaSpec(
        "kms.symmetric", "kms", "cryptographic operations with symmetric keys (Decrypt, Encrypt, GenerateDataKey...)",
        QuotaKind.RATE, 10_000, 10_000,
        Refusal("kms", "ThrottlingException", 400, "You have exceeded the rate at which you may call KMS."),
        "https://docs.aws.amazon.com/kms/latest/developerguide/requests-per-second.html", True,
        "shared per account and Region, requests AWS services make on the caller's behalf included",
    ),
    QuotaSpec(
        "secretsmanager.GetSecretValue", "secretsmanager", "combined rate of GetSecretValue and DescribeSecret",
        QuotaKind.RATE, 10_000, 10_000, Refusal("secretsmanager", "ThrottlingException", 400, "Rate exceeded"),
        "https://docs.aws.amazon.com/secretsmanager/latest/userguide/reference_limits.html", True,
    ),
    QuotaSpec(
        "events.PutEvents", "events", "PutEvents requests (each up to 10 entries)", QuotaKind.RATE, 400, 400,
        Refusal("events", "ThrottlingException", 400, "Rate exceeded"),
        "https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-quota.html", True,
        "per Region: read in the page's source (awsdocs EventBridge user guide, eb-quota)",
    ),
    QuotaSpec(
        "apigateway.account", "apigateway", "requests to all APIs of the account in the Region",
        QuotaKind.RATE, 5000, 10_000, Refusal("apigateway", "TooManyRequestsException", 429, "Too Many Requests"),
        "https://docs.aws.amazon.com/apigateway/latest/developerguide/limits.html", True,
        "10,000 requests per second with a bucket of 5,000; API Gateway's own 429 carries no Retry-After",
    ),
    QuotaSpec(
        "apigateway.stage.prod", "apigateway", "the HTTP API's default route throttle, Stage=prod",
        QuotaKind.RATE, 800, 400, Refusal("apigateway", "TooManyRequestsException", 429, "Too Many Requests"),
        "template.yaml (HttpApi DefaultRouteSettings)", True, "ours: ThrottlingBurstLimit 800, ThrottlingRateLimit 400",
    ),
    QuotaSpec(
        "apigateway.stage.dev", "apigateway", "the HTTP API's default route throttle, Stage=dev or staging",
        QuotaKind.RATE, 50, 25, Refusal("apigateway", "TooManyRequestsException", 429, "Too Many Requests"),
        "template.yaml (HttpApi DefaultRouteSettings)", True, "ours: ThrottlingBurstLimit 50, ThrottlingRateLimit 25",
    ),
    QuotaSpec(
        "dynamodb.partition.write", "dynamodb",
        "write request units per second on one partition key (a hot gsi1 key: ACTIVE#<shard>, DUE#<shard>)",
        QuotaKind.RATE, 1000, 1000,
        Refusal("dynamodb", "ProvisionedThroughputExceededException", 400, "Throughput exceeds the partition's"),
        "https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/bp-partition-key-design.html", False,
        "on demand too: 1,000 WCU per partition; a throttled index write throttles the table write that caused it",
    ),
    QuotaSpec(
        "dynamodb.partition.read", "dynamodb", "read request units per second on one partition key",
        QuotaKind.RATE, 3000, 3000,
        Refusal("dynamodb", "ProvisionedThroughputExceededException", 400, "Throughput exceeds the partition's"),
        "https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/bp-partition-key-design.html", False,
        "3,000 RCU: 6,000 eventually consistent reads of 4 KB",
    ),
)  # fmt: skip

SPECS: dict[str, QuotaSpec] = {spec.key: spec for spec in _ALL}

# What differs from SPECS per Region: (bucket size or limit, refill per second).
_SFN_LARGE = {
    "stepfunctions.StartExecution.standard": (1300.0, 300.0),
    "stepfunctions.SendTaskSuccess": (3000.0, 500.0),
    "stepfunctions.SendTaskFailure": (3000.0, 500.0),
    "stepfunctions.SendTaskHeartbeat": (3000.0, 500.0),
    "stepfunctions.DescribeExecution": (300.0, 15.0),
    "stepfunctions.StateTransition.standard": (5000.0, 1500.0),
}
REGIONAL_DEFAULTS: dict[str, dict[str, tuple[float, float]]] = {
    "eu-central-1": {"kms.symmetric": (20_000, 20_000), "events.PutEvents": (2400, 2400)},
    "eu-west-1": _SFN_LARGE | {"kms.symmetric": (100_000, 100_000), "events.PutEvents": (10_000, 10_000)},
    "us-east-1": _SFN_LARGE | {"kms.symmetric": (100_000, 100_000), "events.PutEvents": (10_000, 10_000)},
}
