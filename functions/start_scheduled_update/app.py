"""StartScheduledUpdate: SQS consumer — one unattended update per due connection and slot (partial batch failures).

A batch's messages are started one after another; one that could not finish within the invocation's time is left to
the queue (reported failed before it starts), so no start is cut off by the Lambda timeout; one AWS refused for rate
comes back sooner, spread (D39).
"""

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


def _start(record: SQSRecord, lambda_context: LambdaContext) -> str:
    due = DueConnection.model_validate_json(record.body)
    seconds_left = lambda_context.get_remaining_time_in_millis() / 1000
    receives = int(record.attributes.get("ApproximateReceiveCount") or 1)  # SQS sends it; a hand-made event may not
    deliver = composition.deliver_due_connection()
    return deliver(due, receipt=record.receipt_handle, receives=receives, seconds_left=seconds_left).value


@logger.inject_lambda_context
@publish_metrics
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return process_partial_response(event=event, record_handler=_start, processor=processor, context=context)
