"""StartScheduledUpdate: SQS consumer — one workflow per due connection and slot (partial batch failures)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from bankupdate import wiring
from bankupdate.domain.schedule_messages import DueConnection
from bankupdate.observability import logger, metrics, tracer
from bankupdate.usecases.start_scheduled import start_scheduled_update

processor = BatchProcessor(event_type=EventType.SQS)


def _start(record: SQSRecord) -> str:
    due = DueConnection.model_validate_json(record.body)
    return start_scheduled_update(
        wiring.services(), owner_id=due.owner_id, connection_id=due.connection_id, slot=due.slot
    ).value


@logger.inject_lambda_context
@metrics.log_metrics
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return process_partial_response(event=event, record_handler=_start, processor=processor, context=context)
