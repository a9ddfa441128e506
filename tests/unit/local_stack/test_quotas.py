"""The quota model: token buckets on an injected clock, concurrency pools, and the defaults of a Region."""

from __future__ import annotations

import math

import pytest

from local_stack.quotas import ConcurrencyPool, QuotaKind, Quotas, Throttled, TokenBucket


def test_a_full_bucket_serves_its_burst_then_refuses() -> None:
    # Given a bucket of 3 tokens refilled at 1 a second
    bucket = TokenBucket(size=3, refill_per_second=1)
    # When 4 calls come at the same instant
    answers = [bucket.take(10.0) for _ in range(4)]
    # Then the burst passes and the fourth is refused
    assert answers == [True, True, True, False]


def test_tokens_come_back_at_the_refill_rate_and_never_beyond_the_size() -> None:
    # Given an empty bucket of 5 refilled at 2 a second
    bucket = TokenBucket(size=5, refill_per_second=2)
    assert bucket.take(0.0, 5)
    # When 1.5 s pass, then 100 s
    after_a_while = bucket.available(1.5)
    after_long = bucket.available(101.5)
    # Then it holds 3 tokens, and later no more than its size
    assert after_a_while == pytest.approx(3)
    assert after_long == pytest.approx(5)


def test_a_refused_call_takes_nothing() -> None:
    # Given a bucket with one token left
    bucket = TokenBucket(size=2, refill_per_second=0)
    assert bucket.take(0.0)
    # When a call asks for two
    refused = bucket.take(0.0, 2)
    # Then it is refused and the one token is still there
    assert not refused
    assert bucket.take(0.0)


def test_a_clock_read_out_of_order_refills_nothing() -> None:
    # Given a bucket emptied at t=10
    bucket = TokenBucket(size=1, refill_per_second=1)
    assert bucket.take(10.0)
    # When a caller passes an earlier time
    # Then no token appears from the past, and the next second brings one
    assert not bucket.take(9.0)
    assert bucket.take(11.0)


def test_a_bucket_says_how_long_until_it_can_serve() -> None:
    # Given an empty bucket refilled at 4 a second
    bucket = TokenBucket(size=10, refill_per_second=4)
    bucket.take(0.0, 10)
    # When asked for 2 tokens, and for more than it can ever hold
    # Then half a second; never
    assert bucket.seconds_until(0.0, 2) == pytest.approx(0.5)
    assert math.isinf(bucket.seconds_until(0.0, 11))


def test_a_pool_holds_its_limit_and_gives_places_back() -> None:
    # Given a pool of two executions, both in use
    pool = ConcurrencyPool(limit=2)
    assert pool.acquire() and pool.acquire()
    # When a third arrives, and then one ends
    third = pool.acquire()
    pool.release()
    # Then the third was refused, a place is free again, and the peak was two
    assert not third
    assert pool.free == 1
    assert pool.peak == 2


def test_eu_central_1_has_the_other_regions_step_functions_quotas_and_its_own_kms_and_events() -> None:
    # Given the defaults of eu-central-1
    quotas = Quotas.default("eu-central-1")
    # When the quotas this system meets most are read
    start = quotas.spec("stepfunctions.StartExecution.standard")
    # Then each is the documented figure, with its source and AWS's error
    assert (start.size, start.refill_per_second) == (800, 150)
    assert start.refusal.error_code == "ThrottlingException"
    assert start.source.startswith("https://docs.aws.amazon.com/step-functions/")
    assert quotas.spec("stepfunctions.StartExecution.express").refill_per_second == 6000
    assert quotas.spec("kms.symmetric").refill_per_second == 20_000
    assert quotas.spec("events.PutEvents").refill_per_second == 2400
    assert quotas.spec("lambda.concurrency").size == 1000
    assert quotas.spec("lambda.concurrency").refusal.http_status == 429
    assert quotas.spec("dynamodb.partition.write").refusal.error_code == "ProvisionedThroughputExceededException"
    assert quotas.spec("apigateway.account").refusal.http_status == 429


def test_state_transitions_are_held_back_not_refused() -> None:
    # Given the Standard state-transition quota
    # When its refusal is read
    refusal = Quotas.default().spec("stepfunctions.StateTransition.standard").refusal
    # Then AWS delays the transition (ExecutionThrottled) instead of answering an error
    assert refusal.delays


def test_the_large_regions_have_larger_step_functions_buckets() -> None:
    # Given Ireland's defaults
    # When its Standard StartExecution is read
    spec = Quotas.default("eu-west-1").spec("stepfunctions.StartExecution.standard")
    # Then the large Regions' bucket applies
    assert (spec.size, spec.refill_per_second) == (1300, 300)


def test_other_workloads_share_the_accounts_concurrency() -> None:
    # Given an account whose other workloads hold 300 of the 1,000 executions
    quotas = Quotas.default(other_workloads_concurrency=300)
    # When the pool is made
    # Then this system has 700
    assert quotas.pool("lambda.concurrency").limit == 700


def test_a_functions_event_source_maximum_is_a_pool_of_its_own() -> None:
    # Given StartScheduledUpdate capped at 5 concurrent executions by its event source mapping
    quotas = Quotas.default(function_limits={"StartScheduledUpdate": 5})
    # When its pool is made
    spec = quotas.spec("lambda.function.StartScheduledUpdate")
    # Then it holds 5 and refuses as Lambda does
    assert spec.kind is QuotaKind.CONCURRENCY
    assert quotas.pool("lambda.function.StartScheduledUpdate").limit == 5
    assert spec.refusal.error_code == "TooManyRequestsException"


def test_a_reservation_is_a_pool_of_its_own_taken_out_of_the_accounts() -> None:
    # Given PollUpdateStatus reserving 600 of the account's 1,000 executions
    quotas = Quotas.default(reserved={"PollUpdateStatus": 600})
    # Then it has a pool of 600, the other functions share the 400 left, and the pool says it is a reservation
    assert quotas.pool("lambda.function.PollUpdateStatus").limit == 600
    assert quotas.pool("lambda.concurrency").limit == 400
    assert quotas.spec("lambda.function.PollUpdateStatus").reserved
    # And a new reservation replaces it rather than adding to it
    assert quotas.with_reserved({"PollUpdateStatus": 500}).pool("lambda.concurrency").limit == 500


def test_a_reservation_that_leaves_fewer_than_100_unreserved_is_refused_as_lambda_refuses_it() -> None:
    # Given an account whose other workloads hold 300 of its 1,000 executions
    quotas = Quotas.default(other_workloads_concurrency=300)
    # When a function would reserve 601 (leaving 99), then Lambda's refusal; 600 (leaving 100) is allowed
    with pytest.raises(ValueError, match=r"below its minimum value of \[100\]"):
        quotas.with_reserved({"PollUpdateStatus": 601})
    assert quotas.with_reserved({"PollUpdateStatus": 600}).pool("lambda.concurrency").limit == 100


def test_the_stage_throttle_follows_the_templates_stage() -> None:
    # Given a prod and a dev deployment
    # When their stage throttle is read
    prod = Quotas.default(stage="prod").spec("apigateway.stage")
    dev = Quotas.default(stage="dev").spec("apigateway.stage")
    # Then prod has 400 a second with 800 of burst, dev 25 with 50 (the template's: tests/template/test_hardening.py)
    assert (prod.size, prod.refill_per_second) == (800, 400)
    assert (dev.size, dev.refill_per_second) == (50, 25)


def test_an_operator_can_raise_a_quota() -> None:
    # Given the defaults with StartExecution raised through Service Quotas
    quotas = Quotas.default().with_overrides(stepfunctions__StartExecution__standard=(2000, 500))
    # When its bucket is made
    bucket = quotas.bucket("stepfunctions.StartExecution.standard")
    # Then it has the raised size and rate
    assert (bucket.size, bucket.refill_per_second) == (2000, 500)


def test_a_refusal_carries_awss_error() -> None:
    # Given the KMS quota
    # When a call is refused
    error = Quotas.default().refusal("kms.symmetric")
    # Then it is AWS's ThrottlingException with status 400
    assert isinstance(error, Throttled)
    assert (error.refusal.error_code, error.refusal.http_status) == ("ThrottlingException", 400)


def test_unknown_regions_and_impossible_shares_are_refused() -> None:
    # Given a Region without recorded defaults, and other workloads holding everything
    # When defaults are asked for
    # Then both are errors, not silent guesses
    with pytest.raises(ValueError, match="no quota defaults"):
        Quotas.default("xx-nowhere-1")
    with pytest.raises(ValueError, match="whole Lambda concurrency"):
        Quotas.default(other_workloads_concurrency=1000)


def test_every_quota_names_its_source() -> None:
    # Given every quota of the default Region
    # When their sources are read
    # Then each names an AWS documentation page or the template
    for spec in Quotas.default().specs.values():
        assert spec.source.startswith("https://docs.aws.amazon.com/") or spec.source.startswith("template.yaml")
