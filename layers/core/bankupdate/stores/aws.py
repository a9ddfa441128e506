"""AWS clients, created once per process and per endpoint (the local stack points AWS_ENDPOINT_URL at moto).

The clients are botocore's own: boto3 only wraps them, and importing it (with s3transfer and the resource layer it
brings) costs a cold start ~50 ms of CPU that no function here needs. All clients of an endpoint come from one
session: a session loads the endpoint, partition and retry data once, and every further client then costs a few
milliseconds instead of the 40-100 ms of a client made from a fresh session (bench/results/cold_start.md). Sessions
are not thread-safe, so clients are made under a lock; clients are.

Retries (decision D32): botocore's ``standard`` mode, 3 attempts, for every client: throttles and transient errors are
retried with exponential backoff and full jitter (up to 1 s, then 2 s) within a per-client retry quota (a client
whose retries keep failing stops retrying: 500 units, 5 a retry). A caller with somewhere else to leave the work asks
for a client of one attempt (``ServiceClient(..., attempts=1)``: the trigger's workflow start, decision D35). A
throttle that outlasts the attempts becomes the domain's ``AwsThrottled`` (the HTTP API's 503 with Retry-After, the
workflow's Retry by name) in one place, here: botocore models throttling for only some services (Step Functions, KMS
and Secrets Manager raise a bare ClientError).
"""

from __future__ import annotations

import os
import threading
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from bankupdate.domain.errors import AwsThrottled

if TYPE_CHECKING:
    from botocore.exceptions import ClientError

_MAKING = threading.Lock()
_ATTEMPTS = 3
RETRY_AFTER_SECONDS = 2  # a refused token bucket refills within a second or two
# What AWS services answer a call refused for rate (botocore's standard mode retries the same codes).
THROTTLING_CODES = frozenset(
    {
        "ThrottlingException",
        "Throttling",
        "ThrottledException",
        "RequestThrottledException",
        "TooManyRequestsException",
        "ProvisionedThroughputExceededException",
        "RequestLimitExceeded",
        "RequestThrottled",
        "KmsThrottlingException",
        "KmsThrottled",
    }
)


def _throttled_after_retries(http_response: Any, parsed: dict[str, Any], model: Any, **_: Any) -> None:
    """botocore's after-call hook: the last attempt's answer, after the retries. A throttle raises AwsThrottled."""
    if http_response.status_code < 300:
        return
    code = str(parsed.get("Error", {}).get("Code", ""))
    if code not in THROTTLING_CODES:
        return
    attempts = int(parsed.get("ResponseMetadata", {}).get("RetryAttempts", 0)) + 1
    operation = f"{model.service_model.service_id.hyphenize()} {model.name}"
    raise AwsThrottled(
        f"AWS refused {operation} for rate ({code}) {attempts} times",
        details={"retryAfterSeconds": RETRY_AFTER_SECONDS},
    )


@lru_cache(maxsize=4)
def _session(endpoint_url: str | None) -> Any:
    # botocore loads with the first client (not at import): a cold start only pays for it when AWS is really called.
    import botocore.session

    return botocore.session.Session()


@lru_cache(maxsize=32)
def _client(service: str, endpoint_url: str | None, region: str | None, attempts: int) -> Any:
    from botocore.config import Config

    # total_max_attempts counts the first attempt; botocore's max_attempts counts retries only (3 meant 4 attempts).
    retries = {"mode": "standard", "total_max_attempts": attempts}
    config = Config(retries=retries, connect_timeout=3, read_timeout=10)
    with _MAKING:
        made = _session(endpoint_url).create_client(
            service, endpoint_url=endpoint_url, region_name=region, config=config
        )
    made.meta.events.register("after-call", _throttled_after_retries, unique_id="bankupdate-throttled")
    return made


def client(service: str, attempts: int = _ATTEMPTS) -> Any:
    return _client(service, os.environ.get("AWS_ENDPOINT_URL"), os.environ.get("AWS_REGION") or None, attempts)


class ServiceClient:
    """A class attribute that is the service's client, made the first time an adapter calls it (an adapter that is
    built but never used, like the workflow client of a read that needs no workflow, costs nothing)."""

    def __init__(self, service: str, attempts: int = _ATTEMPTS) -> None:
        self._service = service
        self._attempts = attempts

    def __get__(self, owner: object, kind: type | None = None) -> Any:
        return client(self._service, self._attempts)


def error_code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def is_condition_failure(error: ClientError) -> bool:
    return error_code(error) == "ConditionalCheckFailedException"
