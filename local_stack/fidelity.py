"""Where moto is less strict than AWS in a way our guarantees depend on, make it as strict.

DynamoDB evaluates a conditional write and applies it atomically per item; moto checks the condition and writes in
two steps, so two threads can both pass the same condition. The lock, budget and idempotency tests race exactly
there, so every moto DynamoDB write is serialised.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from typing import Any
from unittest import mock

from moto.dynamodb.models import DynamoDBBackend

_WRITES = ("put_item", "update_item", "delete_item", "transact_write_items")
_LOCK = threading.RLock()


def _serialised(method: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(method)
    def locked(*args: Any, **kwargs: Any) -> Any:
        with _LOCK:
            return method(*args, **kwargs)

    return locked


def atomic_dynamodb_writes() -> list[Any]:
    return [mock.patch.object(DynamoDBBackend, name, _serialised(getattr(DynamoDBBackend, name))) for name in _WRITES]
