"""The Lambda context of the invocation in progress, for adapters that need its deadline (idempotency).

Kept apart from ``idempotency`` so that handlers can remember the context without loading Powertools idempotency
and boto3 at cold start.
"""

from __future__ import annotations

from contextvars import ContextVar
from typing import Any

_LAMBDA_CONTEXT: ContextVar[Any] = ContextVar("lambda_context", default=None)


def remember_lambda_context(context: Any) -> None:
    """Call at the start of the handler."""
    _LAMBDA_CONTEXT.set(context)


def current_lambda_context() -> Any:
    return _LAMBDA_CONTEXT.get()
