"""boto3 clients, created once per process and per endpoint (the local stack points AWS_ENDPOINT_URL at moto)."""

from __future__ import annotations

import os
from functools import lru_cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from botocore.exceptions import ClientError


@lru_cache(maxsize=32)
def _client(service: str, endpoint_url: str | None, region: str | None) -> Any:
    # boto3 loads with the first client (not at import): a cold start only pays for it when AWS is really called.
    import boto3
    from botocore.config import Config

    config = Config(retries={"mode": "standard", "max_attempts": 3}, connect_timeout=3, read_timeout=10)
    return boto3.session.Session().client(service, endpoint_url=endpoint_url, region_name=region, config=config)


def client(service: str) -> Any:
    return _client(service, os.environ.get("AWS_ENDPOINT_URL"), os.environ.get("AWS_REGION") or None)


def error_code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def is_condition_failure(error: ClientError) -> bool:
    return error_code(error) == "ConditionalCheckFailedException"
