"""Powertools idempotency, persisted in the template's idempotency table."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from aws_lambda_powertools.utilities.idempotency.exceptions import IdempotencyAlreadyInProgressError

from bankupdate.stores.aws import client
from bankupdate.stores.invocation import current_lambda_context

__all__ = ["IdempotencyAlreadyInProgressError", "run_once"]


def run_once(
    table_name: str, ttl_seconds: int, key: dict[str, Any], action: Callable[[], dict[str, Any]]
) -> dict[str, Any]:
    """Run ``action`` once per ``key`` within ``ttl_seconds``; repeats get the first answer back.

    ``key`` must not contain secrets: Powertools stores its hash and the answer in the idempotency table.
    """
    persistence = DynamoDBPersistenceLayer(table_name=table_name, boto3_client=client("dynamodb"))
    config = IdempotencyConfig(expires_after_seconds=ttl_seconds, raise_on_no_idempotency_key=True)
    if (context := current_lambda_context()) is not None:
        # A record still IN_PROGRESS when Lambda kills the invocation then expires with the invocation's timeout,
        # instead of answering the key's retries with 409 for the whole TTL.
        config.register_lambda_context(context)

    @idempotent_function(  # type: ignore[untyped-decorator]
        data_keyword_argument="request", config=config, persistence_store=persistence
    )
    def _run(request: dict[str, Any]) -> dict[str, Any]:
        return action()

    result: dict[str, Any] = _run(request=key)
    return result
