"""AWS's quotas enforced on the stack's own AWS calls, and throttles injected at random for the reliability tests.

Off unless a ``LocalStack`` is given ``quotas`` or ``throttle_rate``: the fast suites never meet a throttle. When on,
a call the quota model (``local_stack/quotas.py``) refuses, or one picked at ``throttle_rate``, gets the error AWS
answers, on the wire: botocore's ``before-send`` hook answers it instead of moto, so the caller's retry mode (backoff,
attempts, retry quota) and its error parsing run exactly as against AWS, every attempt meeting the buckets again.

Only calls made in the name of one of the stack's roles are held to quotas (the functions', the state machines', the
event sources'): what a test does itself to seed or read the stack is not.

* Step Functions ``StartExecution`` (Standard or Express by the machine), ``SendTask*``, ``DescribeExecution``:
  ``ThrottlingException``; a Standard execution's state transitions are held back, never refused
  (``interception.py``)
* Lambda ``Invoke`` picked at random: ``TooManyRequestsException`` (429); concurrency (the account's, or a
  function's reserved) is held where the invocation runs (``lambdas/runtime.py``) as long as it runs
* KMS cryptographic operations, Secrets Manager reads, EventBridge ``PutEvents``, SSM reads: ``ThrottlingException``
* DynamoDB writes and reads naming a hot index partition (``ACTIVE#<shard>``, ``DUE#<shard>``), one request unit
  each: ``ProvisionedThroughputExceededException``
* the HTTP API: the account's bucket and each route's stage throttle (``http_api/gateway.py``): 429
"""

from __future__ import annotations

import io
import json
import math
import random
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any
from unittest import mock

from botocore.awsrequest import AWSResponse
from botocore.retries.standard import ExponentialBackoff

from local_stack.quota_table import SPECS, Refusal
from local_stack.quotas import ConcurrencyPool, Quotas, TokenBucket

# What a call refused at random gets: the service's own throttling error (SQS and STS are left alone: AWS documents no
# throttle for a standard queue's messages, and STS is not called by the functions).
INJECTED_REFUSALS: dict[str, Refusal] = {
    "states": SPECS["stepfunctions.StartExecution.standard"].refusal,
    "lambda": SPECS["lambda.concurrency"].refusal,
    "kms": SPECS["kms.symmetric"].refusal,
    "secretsmanager": SPECS["secretsmanager.GetSecretValue"].refusal,
    "events": SPECS["events.PutEvents"].refusal,
    "dynamodb": SPECS["dynamodb.partition.write"].refusal,
    "ssm": Refusal("ssm", "ThrottlingException", 400, "Rate exceeded"),
}
_KMS_CRYPTO = {"Encrypt", "Decrypt", "GenerateDataKey", "GenerateDataKeyWithoutPlaintext", "GenerateMac", "VerifyMac"}
_DYNAMODB_WRITES = {"PutItem", "UpdateItem", "DeleteItem", "TransactWriteItems", "BatchWriteItem"}
_DYNAMODB_READS = {"GetItem", "Query", "TransactGetItems", "BatchGetItem"}
HOT_PARTITION_PREFIXES = ("ACTIVE#", "DUE#")  # the sparse gsi1's partitions (stores/updates.py, stores/connections.py)


def _hot_partitions(value: Any) -> set[str]:
    """The hot index partition keys a DynamoDB request names (in an item, a key condition or an update's values)."""
    if isinstance(value, str):
        return {value} if value.startswith(HOT_PARTITION_PREFIXES) else set()
    if isinstance(value, Mapping):
        return set().union(*(_hot_partitions(v) for v in value.values())) if value else set()
    if isinstance(value, list | tuple):
        return set().union(*(_hot_partitions(v) for v in value)) if value else set()
    return set()


def buckets_of_call(
    service: str, operation: str, params: Mapping[str, Any], is_express: Callable[[str], bool]
) -> list[tuple[str, str]]:
    """The rate quotas one call takes a token from: (quota key, bucket name) pairs; a bucket name scopes a quota
    that AWS counts per partition."""
    if service == "states" and operation == "StartExecution":
        kind = "express" if is_express(str(params.get("stateMachineArn", ""))) else "standard"
        return [(f"stepfunctions.StartExecution.{kind}",) * 2]
    if service == "states" and operation in (
        "SendTaskSuccess",
        "SendTaskFailure",
        "SendTaskHeartbeat",
        "DescribeExecution",
    ):
        return [(f"stepfunctions.{operation}",) * 2]
    if service == "kms" and operation in _KMS_CRYPTO:
        return [("kms.symmetric",) * 2]
    if service == "secretsmanager" and operation in ("GetSecretValue", "DescribeSecret"):
        return [("secretsmanager.GetSecretValue",) * 2]
    if service == "events" and operation == "PutEvents":
        return [("events.PutEvents",) * 2]
    if service == "dynamodb" and operation in _DYNAMODB_WRITES | _DYNAMODB_READS:
        key = "dynamodb.partition.write" if operation in _DYNAMODB_WRITES else "dynamodb.partition.read"
        return [(key, f"{key}.{partition}") for partition in sorted(_hot_partitions(params))]
    return []


def scaled_sdk_backoff(scale: float) -> Any:
    """A patch: botocore's backoff between attempts times ``scale``, as the workflows' Retry intervals are scaled
    (the stack's ``retry_scale``); 1 s and 2 s of full jitter after a throttle are AWS's real numbers."""
    original = ExponentialBackoff.delay_amount

    def delay_amount(self: ExponentialBackoff, context: Any) -> float:
        return float(original(self, context)) * scale

    return mock.patch.object(ExponentialBackoff, "delay_amount", delay_amount)


class _RawBody(io.BytesIO):
    """What botocore reads an answer's body from (urllib3's ``stream``)."""

    def stream(self, **_: Any) -> Iterator[bytes]:
        contents = self.read()
        while contents:
            yield contents
            contents = self.read()


def refusal_response(refusal: Refusal, protocol: str, url: str = "") -> AWSResponse:
    """AWS's answer to a refused call as it comes over the wire, in the service's protocol."""
    request_id = str(uuid.uuid4())
    if protocol == "rest-json":  # Lambda: the error type in a header, the reason in the body
        headers = {"x-amzn-RequestId": request_id, "x-amzn-ErrorType": refusal.error_code}
        body: dict[str, Any] = {"Type": "User", "message": refusal.message}
        if refusal.service == "lambda":
            body["Reason"] = "ConcurrentInvocationLimitExceeded"
    else:  # the JSON protocols: the error type in the body
        headers = {"x-amzn-RequestId": request_id, "content-type": "application/x-amz-json-1.0"}
        body = {"__type": refusal.error_code, "message": refusal.message}
    data = json.dumps(body).encode()
    headers["content-length"] = str(len(data))
    return AWSResponse(url, refusal.http_status, headers, _RawBody(data))


class QuotaEnforcement:
    """The buckets and pools of one stack, on the real clock, and the random throttles of a test.

    ``quotas`` None: no bucket refuses anything (only the random throttles at ``injected_rate`` do)."""

    def __init__(
        self,
        quotas: Quotas | None,
        *,
        injected_rate: float = 0.0,
        seed: int | str = 0,
        is_express: Callable[[str], bool] = lambda arn: False,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.quotas = quotas
        self.injected_rate = injected_rate
        self.refused: Counter[str] = Counter()  # by quota key, and "injected.<service>" for the random ones
        self.attempts: Counter[str] = Counter()  # every attempt of a call that met the quotas, by service
        self._rng = random.Random(seed)  # noqa: S311 - a test's throttles, not cryptography
        self._is_express = is_express
        self._clock = clock
        self._buckets: dict[str, TokenBucket] = {}
        self._pools: dict[str, ConcurrencyPool] = {}
        self._lock = threading.Lock()
        self._call = threading.local()
        self._refuse_next: Counter[tuple[str, str]] = Counter()
        self._aimed_at: dict[tuple[str, str], Callable[[Mapping[str, Any]], bool]] = {}
        self.aimed_refusals: list[str] = []  # the calls the aims of ``refuse_next`` met, for a test's message
        self._reserved: dict[str, int] = {}  # the template's reserved concurrency, by function

    def refuse_next(
        self, service: str, operation: str, times: int = 1, *, where: Callable[[Mapping[str, Any]], bool] | None = None
    ) -> None:
        """The next ``times`` attempts of this call (``"states", "SendTaskSuccess"``) are refused for rate, as the
        random throttles are: a test aims a throttle at one call site (``where``: only at calls whose parameters it
        accepts, so that a stray call of an earlier test's update does not take the aim)."""
        with self._lock:
            self._refuse_next[(service, operation)] += times
            # The latest aim's filter holds for the call: an aim without one is not filtered by an earlier aim's.
            if where is None:
                self._aimed_at.pop((service, operation), None)
            else:
                self._aimed_at[(service, operation)] = where

    def unmet_aims(self) -> dict[str, int]:
        """The refusals ``refuse_next`` aimed that no call has met yet."""
        with self._lock:
            return {f"{service} {operation}": n for (service, operation), n in self._refuse_next.items() if n}

    def forget_aims(self) -> None:
        """Drop the refusals ``refuse_next`` aimed that no call met (a test's aim must not outlive the test)."""
        with self._lock:
            self._refuse_next.clear()
            self._aimed_at.clear()
            self.aimed_refusals.clear()

    def set_quotas(self, quotas: Quotas) -> None:
        """Other quotas from now on (a test lowering one): every bucket starts full again; executions running keep
        their places in pools of the new sizes."""
        with self._lock:
            self.quotas = now = quotas.with_reserved(self._reserved)  # the template's reservations hold on
            self._buckets.clear()
            for key, pool in self._pools.items():
                if key in now.specs:
                    pool.limit = int(now.spec(key).size)

    def reserve(self, reserved: Mapping[str, int]) -> None:
        """The template's reserved concurrency (by function logical id): each function its own pool, out of the
        account's. ValueError: Lambda refuses it (too little left unreserved)."""
        with self._lock:
            if self.quotas is not None:
                self.quotas = self.quotas.with_reserved(reserved)
            self._reserved = dict(reserved)

    # ------------------------------------------------------------------------------------------ AWS API calls

    def refusal_for_call(self, service: str, operation: str, params: Mapping[str, Any]) -> Refusal | None:
        """Whether this attempt of a call is refused, and with what; a refused attempt takes no token."""
        with self._lock:
            self.attempts[service] += 1
            injected = INJECTED_REFUSALS.get(service)
            where = self._aimed_at.get((service, operation))
            aimed = self._refuse_next[(service, operation)] > 0 and (where is None or where(params))
            if aimed:
                self._refuse_next[(service, operation)] -= 1
                self.aimed_refusals.append(f"{service} {operation} in {threading.current_thread().name}: {params}")
            if injected is not None and (aimed or (self.injected_rate > 0 and self._rng.random() < self.injected_rate)):
                self.refused[f"injected.{service}"] += 1
                return injected
            if self.quotas is None:
                return None
            now = self._clock()
            wanted = buckets_of_call(service, operation, params, self._is_express)
            buckets = [(key, self._bucket(key, name)) for key, name in wanted]
            for key, bucket in buckets:
                if bucket.available(now) + 1e-9 < 1:
                    self.refused[key] += 1
                    return self.quotas.spec(key).refusal
            for _, bucket in buckets:
                bucket.take(now)
            return None

    def _bucket(self, key: str, name: str) -> TokenBucket:
        bucket = self._buckets.get(name)
        if bucket is None:
            assert self.quotas is not None
            bucket = self._buckets[name] = self.quotas.bucket(key)
        return bucket

    @contextmanager
    def calling(self, client: Any, service: str, operation: str, params: Mapping[str, Any]) -> Iterator[None]:
        """One API call of the stack's code: each of its attempts meets the quotas in ``before-send``."""
        # First, before anything else could answer; once per client and enforcement (a client cached across stacks
        # keeps an inert one of the last).
        client.meta.events.register_first("before-send", self._before_send, unique_id=f"local-stack-quotas-{id(self)}")
        previous = getattr(self._call, "current", None)
        self._call.current = (service, operation, params, client.meta.service_model.protocol)
        try:
            yield
        finally:
            self._call.current = previous

    def _before_send(self, request: Any, **_: Any) -> AWSResponse | None:
        current = getattr(self._call, "current", None)
        if current is None:
            return None
        service, operation, params, protocol = current
        refusal = self.refusal_for_call(service, operation, params)
        return None if refusal is None else refusal_response(refusal, protocol, str(getattr(request, "url", "")))

    # ------------------------------------------------------------------------------------------ state transitions

    def transition_delay(self) -> float:
        """How long a Standard execution's next state transition is held back (0: not at all). Step Functions does
        not refuse a transition when its bucket is empty, it delays it (the ``ExecutionThrottled`` metric); the
        token is reserved now, so transitions waiting together leave one after another at the refill rate."""
        key = "stepfunctions.StateTransition.standard"
        if self.quotas is None or key not in self.quotas.specs:
            return 0.0
        with self._lock:
            now = self._clock()
            bucket = self._bucket(key, key)
            start = max(now, bucket.last if bucket.last is not None else now)
            wait = bucket.seconds_until(start)
            if math.isinf(wait):
                wait = 1.0  # a bucket that never refills (a test's): AWS would never delay forever either
            bucket.take(start + wait)
            delay = start + wait - now
            if delay > 0:
                self.refused[key] += 1  # held back, not refused
            return delay

    # ------------------------------------------------------------------------------------------ Lambda concurrency

    def enter_function(self, logical_id: str, reserved: int | None = None) -> Refusal | None:
        """An invocation takes a place in its function's own pool (reserved concurrency, from the template or the
        quotas' ``lambda.function.<logical id>``) or else in the account's."""
        if self.quotas is None:
            return None
        with self._lock:
            key = self._pool_key(logical_id, reserved)
            if self._pool(key, reserved).acquire():
                return None
            self.refused[key] += 1
            return self.quotas.spec("lambda.concurrency").refusal

    def leave_function(self, logical_id: str, reserved: int | None = None) -> None:
        if self.quotas is None:
            return
        with self._lock:
            key = self._pool_key(logical_id, reserved)
            self._pool(key, reserved).release()

    def _pool_key(self, logical_id: str, reserved: int | None) -> str:
        assert self.quotas is not None
        key = f"lambda.function.{logical_id}"
        return key if reserved is not None or key in self.quotas.specs else "lambda.concurrency"

    def _pool(self, key: str, reserved: int | None = None) -> ConcurrencyPool:
        pool = self._pools.get(key)
        if pool is None:
            assert self.quotas is not None
            own = key != "lambda.concurrency" and key not in self.quotas.specs
            pool = self._pools[key] = ConcurrencyPool(limit=reserved or 0) if own else self.quotas.pool(key)
        return pool

    def peak_concurrency(self) -> int:
        with self._lock:
            return sum(pool.peak for pool in self._pools.values())

    # ------------------------------------------------------------------------------------------ the HTTP API

    def admit_request(self, route: str) -> bool:
        """API Gateway's throttles on one request: the account's bucket, then the stage's for the route."""
        if self.quotas is None:
            return True
        with self._lock:
            now = self._clock()
            buckets = [("apigateway.account", "apigateway.account"), ("apigateway.stage", f"apigateway.stage {route}")]
            for key, name in buckets:
                if not self._bucket(key, name).available(now) + 1e-9 >= 1:
                    self.refused[key] += 1
                    return False
            for key, name in buckets:
                self._bucket(key, name).take(now)
            return True
