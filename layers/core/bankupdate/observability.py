"""The one place where Logger, Tracer and Metrics are created.

The log formatter removes secrets before a record is serialised, whatever a caller passes in ``extra``:
credentials, TANs, redirect query strings, task tokens and access tokens never reach CloudWatch.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter

from bankupdate.domain.redaction import redact

SERVICE = "bank-connection-updates"


class RedactingFormatter(LambdaPowertoolsFormatter):
    def serialize(self, log: Mapping[str, Any]) -> str:
        return super().serialize(log=redact(dict(log)))


logger = Logger(service=SERVICE, logger_formatter=RedactingFormatter())
tracer = Tracer(service=SERVICE)
# The template sets the namespace; the default keeps metrics valid when the module is imported outside Lambda.
metrics = Metrics(service=SERVICE, namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE") or "BankConnectionUpdates")
