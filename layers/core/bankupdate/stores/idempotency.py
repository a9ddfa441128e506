"""Powertools idempotency, persisted in the template's idempotency table (loaded only when a request carries an
``Idempotency-Key``: the rest of the trigger never pays for it)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bankupdate.domain.errors import BankUpdateError, IdempotencyKeyReused, UpdateAlreadyRunning
from bankupdate.ports import IdempotentCall
from bankupdate.stores.aws import client
from bankupdate.stores.invocation import current_lambda_context


class PowertoolsIdempotencyStore:
    def __init__(self, table_name: str, ttl_seconds: int) -> None:
        self._table = table_name
        self._ttl = ttl_seconds

    def run_once(self, call: IdempotentCall, action: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        from aws_lambda_powertools.utilities.idempotency import (
            DynamoDBPersistenceLayer,
            IdempotencyConfig,
            idempotent_function,
        )
        from aws_lambda_powertools.utilities.idempotency.exceptions import (
            IdempotencyAlreadyInProgressError,
            IdempotencyPersistenceLayerError,
            IdempotencyValidationError,
        )

        persistence = DynamoDBPersistenceLayer(table_name=self._table, boto3_client=client("dynamodb"))
        config = IdempotencyConfig(
            event_key_jmespath="key",
            payload_validation_jmespath="fingerprint",
            expires_after_seconds=self._ttl,
            raise_on_no_idempotency_key=True,
        )
        if (context := current_lambda_context()) is not None:
            # A record still IN_PROGRESS when Lambda kills the invocation then expires with the invocation's
            # timeout, instead of answering the key's retries with 409 for the whole TTL.
            config.register_lambda_context(context)

        done: dict[str, Any] = {}  # the action's answer, once it ran

        @idempotent_function(  # type: ignore[untyped-decorator]
            data_keyword_argument="request", config=config, persistence_store=persistence
        )
        def _run(request: dict[str, Any]) -> dict[str, Any]:
            done.update(action())
            return dict(done)

        try:
            result: dict[str, Any] = _run(request={"key": call.key, "fingerprint": call.fingerprint})
        except IdempotencyAlreadyInProgressError as error:
            raise UpdateAlreadyRunning(
                "a request with this Idempotency-Key is still being processed",
                details={"idempotencyKey": call.key.get("key"), "retryAfterSeconds": 2},
            ) from error
        except IdempotencyPersistenceLayerError as error:
            # Powertools wraps what the table's client raised (AwsThrottled when DynamoDB kept refusing for rate).
            if done:  # the action ran; only recording its answer failed (a repeat of the key waits for the record)
                return done
            if isinstance(error.__cause__, BankUpdateError):
                raise error.__cause__ from None
            raise
        except IdempotencyValidationError as error:
            raise IdempotencyKeyReused(
                "this Idempotency-Key was used with other options; use a new key for a new request",
                details={"idempotencyKey": call.key.get("key")},
            ) from error
        return result
