"""StartScheduledUpdate: SQS consumer — one workflow per due connection and slot (partial batch failures)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from bankupdate import composition
from bankupdate.contract import DueConnection
from bankupdate.observability import logger, publish_metrics, tracer

processor = BatchProcessor(event_type=EventType.SQS)


def _start(record: SQSRecord) -> str:
    return composition.start_scheduled_update()(DueConnection.model_validate_json(record.body)).value


@logger.inject_lambda_context
@publish_metrics
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return process_partial_response(event=event, record_handler=_start, processor=processor, context=context)
