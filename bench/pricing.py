"""AWS list prices the cost figures use (eu-central-1, on-demand, no free tier), in US dollars per unit.

The poll loop's own break-even uses the same transition and Lambda prices (bankupdate.domain.backoff), so they are
taken from there rather than written twice. Check https://aws.amazon.com/pricing before relying on a figure.
"""

from __future__ import annotations

from bankupdate.domain.backoff import LAMBDA_ARM_GB_SECOND_USD, LAMBDA_REQUEST_USD, TRANSITION_USD

PRICES_USD = {
    "stepfunctions.standard_transition": TRANSITION_USD,
    "stepfunctions.express_request": 1.00 / 1e6,
    "stepfunctions.express_gb_second": 0.00001667,
    "lambda.request": LAMBDA_REQUEST_USD,
    "lambda.arm_gb_second": LAMBDA_ARM_GB_SECOND_USD,
    "dynamodb.write_request_unit": 0.7625 / 1e6,
    "dynamodb.read_request_unit": 0.1525 / 1e6,
    "eventbridge.custom_event": 1.00 / 1e6,
    "sqs.request": 0.40 / 1e6,
    "kms.request": 0.03 / 1e4,
    "secretsmanager.api_call": 0.05 / 1e4,
    "apigateway.http_request": 1.20 / 1e6,
    "cloudwatch.log_ingest_gb": 0.63,
}

# Lambda writes START, END and REPORT lines for every invocation besides what the function logs.
LAMBDA_PLATFORM_LOG_BYTES = 260

# Capacity units per call, for items of our size (an update record is ~1-2 KB; reads are strongly consistent).
DYNAMODB_WRITES = {"PutItem": 2, "UpdateItem": 2, "DeleteItem": 1, "TransactWriteItems": 4, "BatchWriteItem": 2}
DYNAMODB_READS = {"GetItem": 1, "Query": 1, "BatchGetItem": 1}


def aws_calls_usd_by_service(calls: dict[str, float]) -> dict[str, float]:
    """What a set of AWS API calls (``service.Operation`` -> count) costs, per service. Step Functions API calls
    (StartExecution, SendTaskSuccess) are free: its bill is the transitions."""
    cost: dict[str, float] = {}
    for name, count in calls.items():
        service, operation = name.split(".", 1)
        if service == "dynamodb":
            usd = count * DYNAMODB_WRITES.get(operation, 0) * PRICES_USD["dynamodb.write_request_unit"]
            usd += count * DYNAMODB_READS.get(operation, 0) * PRICES_USD["dynamodb.read_request_unit"]
        elif service == "events":
            usd = count * PRICES_USD["eventbridge.custom_event"] if operation == "PutEvents" else 0.0
        elif service == "sqs":
            usd = count * PRICES_USD["sqs.request"]
        elif service == "kms":
            usd = count * PRICES_USD["kms.request"]
        elif service == "secretsmanager":
            usd = count * PRICES_USD["secretsmanager.api_call"]
        else:
            usd = 0.0
        cost[service] = cost.get(service, 0.0) + usd
    return cost


def aws_calls_usd(calls: dict[str, int]) -> float:
    return sum(aws_calls_usd_by_service(dict(calls)).values())


def lambda_usd(invocations: int, gb_seconds: float) -> float:
    return invocations * PRICES_USD["lambda.request"] + gb_seconds * PRICES_USD["lambda.arm_gb_second"]


def transitions_usd(transitions: int) -> float:
    return transitions * PRICES_USD["stepfunctions.standard_transition"]


def logs_usd(log_bytes: int, invocations: int) -> float:
    return (log_bytes + invocations * LAMBDA_PLATFORM_LOG_BYTES) / 1e9 * PRICES_USD["cloudwatch.log_ingest_gb"]
