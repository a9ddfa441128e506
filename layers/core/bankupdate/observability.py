"""The one place where Logger, Tracer and Metrics are created.

The log formatter removes secrets before a record is serialised, whatever a caller passes in ``extra``:
credentials, TANs, redirect query strings, task tokens and access tokens never reach CloudWatch.

The X-Ray SDK (Powertools Tracer) is opt-in: importing it and patching botocore and httpx costs ~170-260 ms on every
cold start (bench/cold_start.py), more than the whole rest of a handler. Lambda's own active tracing (template Globals)
still records every invocation; the SDK adds subsegments per AWS and finAPI call when ``POWERTOOLS_TRACE_DISABLED`` is
``false`` (template parameter ``XRaySdkTracing``).
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from aws_lambda_powertools.logging import Logger
from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter
from aws_lambda_powertools.metrics import Metrics

from bankupdate.domain.redaction import redact

SERVICE = "bank-connection-updates"


class RedactingFormatter(LambdaPowertoolsFormatter):
    def serialize(self, log: Mapping[str, Any]) -> str:
        return super().serialize(log=redact(dict(log)))


logger = Logger(service=SERVICE, logger_formatter=RedactingFormatter())

Handler = TypeVar("Handler", bound=Callable[..., Any])


def sdk_tracing_enabled() -> bool:
    return os.environ.get("POWERTOOLS_TRACE_DISABLED", "true").strip().lower() in ("false", "0")


class HandlerTracer:
    """``@tracer.capture_lambda_handler()``: the Powertools Tracer when SDK tracing is on, else the handler as is."""

    def capture_lambda_handler(self, capture_response: bool = False) -> Callable[[Handler], Handler]:
        if not sdk_tracing_enabled():
            return lambda handler: handler
        from aws_lambda_powertools.tracing import Tracer  # noqa: PLC0415 (the X-Ray SDK only when asked for)

        decorate: Callable[[Handler], Handler] = Tracer(service=SERVICE).capture_lambda_handler(
            capture_response=capture_response
        )
        return decorate


tracer = HandlerTracer()
# The template sets the namespace; the default keeps metrics valid when the module is imported outside Lambda.
metrics = Metrics(service=SERVICE, namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE") or "BankConnectionUpdates")


def publish_metrics(handler: Handler) -> Handler:
    """The handler's business metrics, written as one EMF line when the invocation ends. Most invocations record none
    (a poll that finds the download still running): Powertools' ``log_metrics`` warns about each of those, so the
    flush happens only when there is something to publish."""

    @functools.wraps(handler)
    def publishing(*args: Any, **kwargs: Any) -> Any:
        try:
            return handler(*args, **kwargs)
        finally:
            if metrics.metric_set:
                metrics.flush_metrics()

    return publishing  # type: ignore[return-value]
