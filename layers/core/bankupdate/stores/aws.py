"""boto3 clients, created once per process and per endpoint (the local stack points AWS_ENDPOINT_URL at moto)."""

from __future__ import annotations

import os
from functools import lru_cache
from typing import Any

import boto3
from botocore.config import Config

_CONFIG = Config(retries={"mode": "standard", "max_attempts": 3}, connect_timeout=3, read_timeout=10)


@lru_cache(maxsize=32)
def _client(service: str, endpoint_url: str | None, region: str | None) -> Any:
    return boto3.session.Session().client(service, endpoint_url=endpoint_url, region_name=region, config=_CONFIG)


def client(service: str) -> Any:
    return _client(service, os.environ.get("AWS_ENDPOINT_URL"), os.environ.get("AWS_REGION") or None)
