"""The quota model wired to the calls: which bucket a call takes from, and a refused call as the caller's botocore
sees it (AWS's error on the wire, retried by the adapters' retry mode, then the domain's AwsThrottled)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import botocore.session
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from moto import mock_aws

from bankupdate.api.http import domain_error_response
from bankupdate.domain.errors import AwsThrottled
from bankupdate.stores import aws
from local_stack.quotas import Quotas
from local_stack.throttling import QuotaEnforcement, buckets_of_call

NOWHERE = "http://127.0.0.1:9"  # nothing listens: every answer must come from the quotas
MACHINE = "arn:aws:states:eu-central-1:123456789012:stateMachine:"


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(autouse=True)
def credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "local")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "local")


@pytest.fixture
def adapters_client() -> Iterator[Any]:
    """A client exactly as the adapters' factory makes them (standard retries, the AwsThrottled hook)."""
    aws._client.cache_clear()
    yield lambda service, attempts=aws._ATTEMPTS: aws._client(service, NOWHERE, "eu-central-1", attempts)
    aws._client.cache_clear()


def plain_client(service: str) -> Any:
    """A client without retries, to see AWS's error as one attempt gets it."""
    config = Config(retries={"mode": "standard", "total_max_attempts": 1})
    return botocore.session.Session().create_client(
        service, endpoint_url=NOWHERE, region_name="eu-central-1", config=config
    )


def test_each_call_takes_from_the_bucket_aws_counts_it_against() -> None:
    # Given a Standard and an Express state machine
    def is_express(arn: str) -> bool:
        return arn.endswith("loop")

    # When the calls the functions make most are mapped to their quotas
    standard = buckets_of_call("states", "StartExecution", {"stateMachineArn": MACHINE + "update"}, is_express)
    express = buckets_of_call("states", "StartExecution", {"stateMachineArn": MACHINE + "loop"}, is_express)
    success = buckets_of_call("states", "SendTaskSuccess", {"taskToken": "t"}, is_express)
    decrypt = buckets_of_call("kms", "Decrypt", {"KeyId": "k"}, is_express)
    describe_key = buckets_of_call("kms", "DescribeKey", {"KeyId": "k"}, is_express)
    due_write = buckets_of_call(
        "dynamodb", "UpdateItem", {"ExpressionAttributeValues": {":gpk": {"S": "DUE#3"}}}, is_express
    )
    active_query = buckets_of_call(
        "dynamodb", "Query", {"ExpressionAttributeValues": {":pk": {"S": "ACTIVE#0"}}}, is_express
    )
    cold_read = buckets_of_call("dynamodb", "GetItem", {"Key": {"pk": {"S": "USER#1"}}}, is_express)

    # Then each takes from its own quota, and DynamoDB's per hot index partition
    assert standard == [("stepfunctions.StartExecution.standard",) * 2]
    assert express == [("stepfunctions.StartExecution.express",) * 2]
    assert success == [("stepfunctions.SendTaskSuccess",) * 2]
    assert decrypt == [("kms.symmetric",) * 2]
    assert describe_key == []  # not a cryptographic operation
    assert due_write == [("dynamodb.partition.write", "dynamodb.partition.write.DUE#3")]
    assert active_query == [("dynamodb.partition.read", "dynamodb.partition.read.ACTIVE#0")]
    assert cold_read == []


def test_a_bucket_refuses_past_its_burst_and_admits_again_as_it_refills() -> None:
    # Given SendTaskSuccess's bucket lowered to 2 tokens refilled at 1 a second
    clock = Clock()
    quotas = Quotas.default().with_overrides(stepfunctions__SendTaskSuccess=(2, 1))
    enforcement = QuotaEnforcement(quotas, clock=clock)
    # When three calls come at once, and one more a second later
    at_once = [enforcement.refusal_for_call("states", "SendTaskSuccess", {}) for _ in range(3)]
    clock.now = 1.0
    later = enforcement.refusal_for_call("states", "SendTaskSuccess", {})
    # Then the third is refused with Step Functions' ThrottlingException, and the refilled token serves the last
    assert at_once[:2] == [None, None]
    assert at_once[2] is not None and (at_once[2].error_code, at_once[2].http_status) == ("ThrottlingException", 400)
    assert later is None
    assert enforcement.refused["stepfunctions.SendTaskSuccess"] == 1


def test_hot_partitions_are_counted_apart() -> None:
    # Given one write unit per second on each index partition
    quotas = Quotas.default().with_overrides(dynamodb__partition__write=(1, 0))
    enforcement = QuotaEnforcement(quotas, clock=Clock())

    def write(shard: str) -> Any:
        values = {":gpk": {"S": shard}}
        return enforcement.refusal_for_call("dynamodb", "UpdateItem", {"ExpressionAttributeValues": values})

    # When two writes go to DUE#1 and one to DUE#2
    answers = [write("DUE#1"), write("DUE#1"), write("DUE#2")]
    # Then only the second write to the hot partition is refused, as DynamoDB refuses it
    assert answers[0] is None and answers[2] is None
    assert answers[1] is not None and answers[1].error_code == "ProvisionedThroughputExceededException"


def test_a_refused_dynamodb_call_is_the_exception_botocore_builds_from_aws_answer() -> None:
    # Given every call refused, and a DynamoDB client that tries once
    enforcement = QuotaEnforcement(None, injected_rate=1.0)
    dynamodb = plain_client("dynamodb")
    params = {"TableName": "t", "Key": {"pk": {"S": "a"}}}
    # When it reads an item
    with enforcement.calling(dynamodb, "dynamodb", "GetItem", params), pytest.raises(ClientError) as raised:
        dynamodb.get_item(**params)
    # Then it gets DynamoDB's modelled exception, HTTP 400
    assert isinstance(raised.value, dynamodb.exceptions.ProvisionedThroughputExceededException)
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_a_refused_lambda_invoke_is_a_429_too_many_requests() -> None:
    # Given every call refused
    enforcement = QuotaEnforcement(None, injected_rate=1.0)
    lambda_client = plain_client("lambda")
    # When a function is invoked
    with enforcement.calling(lambda_client, "lambda", "Invoke", {}), pytest.raises(ClientError) as raised:
        lambda_client.invoke(FunctionName="f", Payload=b"{}")
    # Then it is Lambda's TooManyRequestsException, 429, with its reason (Step Functions names it so: Lambda.<code>)
    assert isinstance(raised.value, lambda_client.exceptions.TooManyRequestsException)
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 429
    assert raised.value.response["Reason"] == "ConcurrentInvocationLimitExceeded"


def test_the_adapters_retry_a_throttle_then_raise_aws_throttled(adapters_client: Any) -> None:
    # Given Step Functions refusing every StartExecution for rate
    enforcement = QuotaEnforcement(None, injected_rate=1.0)
    sfn = adapters_client("stepfunctions")
    params = {"stateMachineArn": MACHINE + "update", "name": "u1", "input": "{}"}
    # When the adapters' client starts an execution
    with enforcement.calling(sfn, "states", "StartExecution", params), pytest.raises(AwsThrottled) as raised:
        sfn.start_execution(**params)
    # Then botocore's standard mode tried 3 times before the domain's AwsThrottled, which the API answers with 503
    # and Retry-After
    assert enforcement.refused["injected.states"] == 3
    assert "ThrottlingException" in str(raised.value)
    assert raised.value.retryable
    answer = domain_error_response(raised.value)
    assert answer.status_code == 503
    assert answer.headers["Retry-After"] == str(aws.RETRY_AFTER_SECONDS)


def test_a_client_of_one_attempt_raises_aws_throttled_at_the_first_refusal(adapters_client: Any) -> None:
    # Given Step Functions refusing every StartExecution for rate, and the client the trigger starts workflows with
    enforcement = QuotaEnforcement(None, injected_rate=1.0)
    sfn = adapters_client("stepfunctions", attempts=1)
    params = {"stateMachineArn": MACHINE + "update", "name": "u1", "input": "{}"}
    # When it starts an execution
    with enforcement.calling(sfn, "states", "StartExecution", params), pytest.raises(AwsThrottled):
        sfn.start_execution(**params)
    # Then it tried once: the refusal is the caller's to handle at once (D35)
    assert enforcement.refused["injected.states"] == 1


def test_a_throttle_that_passes_within_the_attempts_is_never_seen() -> None:
    # Given a hot index partition whose last write unit is spent, refilled at one a second
    clock = Clock()
    quotas = Quotas.default().with_overrides(dynamodb__partition__write=(1, 1))
    enforcement = QuotaEnforcement(quotas, clock=clock)
    item = {"pk": {"S": "UPDATE#1"}, "gsi1pk": {"S": "ACTIVE#0"}}
    assert enforcement.refusal_for_call("dynamodb", "PutItem", {"Item": item}) is None
    aws._client.cache_clear()
    with mock_aws():
        dynamodb = aws._client("dynamodb", None, "eu-central-1", aws._ATTEMPTS)  # as the adapters make it
        dynamodb.create_table(
            TableName="t",
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )

        def time_passes(**_: Any) -> None:
            clock.now += 0.6  # by the second attempt the partition has a unit again

        dynamodb.meta.events.register_first("before-send", time_passes)
        # When the adapters' client writes to that partition
        with enforcement.calling(dynamodb, "dynamodb", "PutItem", {"Item": item}):
            answer = dynamodb.put_item(TableName="t", Item=item)
    aws._client.cache_clear()
    # Then the first attempt was refused and the retry written: the caller saw no error
    assert enforcement.refused["dynamodb.partition.write"] == 1
    assert answer["ResponseMetadata"]["RetryAttempts"] == 1


def test_lambda_concurrency_is_held_until_an_invocation_ends() -> None:
    # Given an account with two executions left for this system
    quotas = Quotas.default(other_workloads_concurrency=998)
    enforcement = QuotaEnforcement(quotas)
    # When three invocations start together, then one ends and another starts
    first, second, third = (enforcement.enter_function("PollUpdateStatusFunction") for _ in range(3))
    enforcement.leave_function("PollUpdateStatusFunction")
    fourth = enforcement.enter_function("FinalizeFunction")
    # Then the third is refused with Lambda's TooManyRequestsException, and the freed place serves the fourth
    assert first is None and second is None and fourth is None
    assert third is not None and (third.error_code, third.http_status) == ("TooManyRequestsException", 429)
    assert enforcement.peak_concurrency() == 2


def test_state_transitions_past_the_bucket_are_held_back_one_after_another() -> None:
    # Given Standard transitions lowered to a burst of 2, refilled at 1 a second
    enforcement = QuotaEnforcement(
        Quotas.default().with_overrides(stepfunctions__StateTransition__standard=(2, 1)), clock=Clock()
    )
    # When four transitions come at the same instant
    delays = [enforcement.transition_delay() for _ in range(4)]
    # Then two pass and the others wait their turn at the refill rate (held back, never refused)
    assert delays == pytest.approx([0, 0, 1, 2])
    assert enforcement.refused["stepfunctions.StateTransition.standard"] == 2


def test_a_function_with_reserved_concurrency_runs_in_its_own_pool() -> None:
    # Given a function reserving one execution, in an account with plenty
    enforcement = QuotaEnforcement(Quotas.default())
    # When it is invoked twice at once, and another function too
    first = enforcement.enter_function("StartScheduledUpdateFunction", reserved=1)
    second = enforcement.enter_function("StartScheduledUpdateFunction", reserved=1)
    other = enforcement.enter_function("TriggerUpdateFunction")
    # Then its second invocation is refused while the account still serves the other function
    assert first is None and other is None
    assert second is not None and second.error_code == "TooManyRequestsException"
    assert enforcement.refused["lambda.function.StartScheduledUpdateFunction"] == 1


def test_a_templates_reservation_holds_under_quotas_a_test_sets_later() -> None:
    # Given a stack whose template reserves 300 executions for the poll function
    enforcement = QuotaEnforcement(Quotas.default())
    enforcement.reserve({"PollUpdateStatusFunction": 300})
    # When a test sets other quotas (other workloads holding 200 of the account's 1,000)
    enforcement.set_quotas(Quotas.default(other_workloads_concurrency=200))
    # Then the reservation still comes out of what is left, and the poll function still has its own pool
    assert enforcement.quotas is not None
    assert enforcement.quotas.pool("lambda.concurrency").limit == 500
    assert enforcement.quotas.pool("lambda.function.PollUpdateStatusFunction").limit == 300


def test_the_stage_throttle_counts_each_route_apart_and_the_account_for_all() -> None:
    # Given the dev stage's route throttle lowered to a burst of 2 and no refill
    quotas = Quotas.default(stage="dev").with_overrides(apigateway__stage=(2, 0))
    enforcement = QuotaEnforcement(quotas, clock=Clock())
    trigger, read = "POST /v1/bank-connections/{connectionId}/updates", "GET /v1/updates/{updateId}"
    # When a route gets three requests and another route one
    triggers = [enforcement.admit_request(trigger) for _ in range(3)]
    reads = [enforcement.admit_request(read)]
    # Then the third to the first route is refused (429 from API Gateway) and the other route is unaffected
    assert triggers == [True, True, False]
    assert reads == [True]
    assert enforcement.refused["apigateway.stage"] == 1


def test_nothing_is_throttled_without_quotas_or_a_rate() -> None:
    # Given an enforcement with neither
    enforcement = QuotaEnforcement(None)
    # When calls of every kind come, many times
    refusals = [enforcement.refusal_for_call("states", "StartExecution", {}) for _ in range(10_000)]
    # Then none is refused and every request and invocation is admitted
    assert refusals == [None] * 10_000
    assert enforcement.admit_request("GET /x") and enforcement.enter_function("F") is None
