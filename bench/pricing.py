"""AWS list prices the cost figures use: eu-central-1 (Frankfurt), on demand, no free tier, US dollars per unit.

Each price names its source. AWS's pricing pages render regional prices in the browser, so the regional figures could
not be read by a script from here: the ones marked "as published for eu-central-1" were taken from the pages' region
selector when this model was written, the others are the same in every commercial region the page lists or are
marked with the region they come from. Check them before quoting a figure: AWS changes prices.

The Step Functions prices the running system decides by (where a poll gap is waited) have their one home in
``bankupdate.domain.prices``; they are taken from there.
"""

from __future__ import annotations

from dataclasses import dataclass

from bankupdate.domain.prices import EXPRESS_GB_SECOND_USD, EXPRESS_REQUEST_USD, STANDARD_TRANSITION_USD


@dataclass(frozen=True)
class Price:
    usd: float
    unit: str
    source: str
    note: str = ""


_SFN = "https://aws.amazon.com/step-functions/pricing/"
_LAMBDA = "https://aws.amazon.com/lambda/pricing/"
_DDB = "https://aws.amazon.com/dynamodb/pricing/on-demand/"
_SQS = "https://aws.amazon.com/sqs/pricing/"
_EVENTS = "https://aws.amazon.com/eventbridge/pricing/"
_KMS = "https://aws.amazon.com/kms/pricing/"
_SECRETS = "https://aws.amazon.com/secrets-manager/pricing/"
_SSM = "https://aws.amazon.com/systems-manager/pricing/"
_APIGW = "https://aws.amazon.com/api-gateway/pricing/"
_LOGS = "https://aws.amazon.com/cloudwatch/pricing/"

PRICES: dict[str, Price] = {
    "stepfunctions.standard_transition": Price(STANDARD_TRANSITION_USD, "state transition (retries count)", _SFN),
    "stepfunctions.express_request": Price(EXPRESS_REQUEST_USD, "execution started", _SFN),
    "stepfunctions.express_gb_second": Price(
        EXPRESS_GB_SECOND_USD,
        "GB-second of execution (64 MB steps, 100 ms steps)",
        _SFN,
        "first 1,000 GB-hours a month",
    ),
    "lambda.request": Price(0.20 / 1e6, "invocation", _LAMBDA),
    "lambda.arm_gb_second": Price(
        0.0000133334, "GB-second, arm64 (INIT included since 1 August 2025)", _LAMBDA, "first 7.5 billion GB-s"
    ),
    "lambda.snapstart_cache_gb_second": Price(
        0.0000015046, "GB-second of a cached snapshot (Python, .NET; at least 3 hours)", _LAMBDA, "us-east-1 figure"
    ),
    "lambda.snapstart_restore_gb": Price(0.0001397998, "GB restored (Python, .NET)", _LAMBDA, "us-east-1 figure"),
    "dynamodb.write_request_unit": Price(
        0.7625 / 1e6, "write request unit (1 KB; index writes alike)", _DDB, "as published for eu-central-1"
    ),
    "dynamodb.read_request_unit": Price(
        0.1525 / 1e6, "read request unit (4 KB strongly consistent)", _DDB, "as published for eu-central-1"
    ),
    "sqs.request": Price(0.40 / 1e6, "standard-queue request (each 64 KB chunk of a payload)", _SQS),
    "eventbridge.custom_event": Price(1.00 / 1e6, "custom event put (each 64 KB chunk)", _EVENTS),
    "kms.request": Price(0.03 / 1e4, "API request", _KMS),
    "secretsmanager.api_call": Price(0.05 / 1e4, "API call", _SECRETS),
    "ssm.get_parameter": Price(0.0, "GetParameter, standard parameter, standard throughput", _SSM),
    "apigateway.http_request": Price(
        1.20 / 1e6, "HTTP API request (512 KB steps)", _APIGW, "as published for eu-central-1 (us-east-1: $1.00)"
    ),
    "cloudwatch.log_ingest_gb": Price(0.63, "GB of logs ingested (standard class)", _LOGS, "eu-central-1"),
}

PRICES_USD = {name: price.usd for name, price in PRICES.items()}

# Lambda writes START, END and REPORT lines for every invocation besides what the function logs.
LAMBDA_PLATFORM_LOG_BYTES = 260


def transitions_usd(transitions: float) -> float:
    return transitions * PRICES_USD["stepfunctions.standard_transition"]


def express_usd(executions: float, gb_seconds: float) -> float:
    """Express workflows: each execution started, and its billed GB-seconds."""
    return (
        executions * PRICES_USD["stepfunctions.express_request"]
        + gb_seconds * PRICES_USD["stepfunctions.express_gb_second"]
    )


def lambda_usd(invocations: float, gb_seconds: float) -> float:
    return invocations * PRICES_USD["lambda.request"] + gb_seconds * PRICES_USD["lambda.arm_gb_second"]


def logs_usd(log_bytes: float, invocations: float) -> float:
    return (log_bytes + invocations * LAMBDA_PLATFORM_LOG_BYTES) / 1e9 * PRICES_USD["cloudwatch.log_ingest_gb"]


def aws_calls_usd_by_service(calls: dict[str, float]) -> dict[str, float]:
    """What AWS API calls (``service.Operation`` -> count) cost by themselves, per service: KMS, Secrets Manager and
    SSM bill per request. DynamoDB, SQS and EventBridge bill by capacity units and chunks (``bench/cost.py``); Step
    Functions API calls (StartExecution, SendTask*) are free: its bill is the Standard transitions and the Express
    executions' requests and duration."""
    cost: dict[str, float] = {}
    for name, count in calls.items():
        service = name.split(".", 1)[0]
        price = {
            "kms": PRICES_USD["kms.request"],
            "secretsmanager": PRICES_USD["secretsmanager.api_call"],
            "ssm": PRICES_USD["ssm.get_parameter"],
        }.get(service)
        if price is not None:
            cost[service] = cost.get(service, 0.0) + count * price
    return cost
