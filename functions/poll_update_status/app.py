"""PollUpdateStatus: look-timer consumer (SQS) — each message is one look at finAPI, due now.

Batches are partial: a look that fails returns to the queue (and looks again after the visibility timeout).
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from bankupdate import composition
from bankupdate.contract import LookMessage
from bankupdate.observability import logger, publish_metrics, tracer
from bankupdate.ports import Invocation

processor = BatchProcessor(event_type=EventType.SQS)


def _look(record: SQSRecord, lambda_context: LambdaContext) -> None:
    context = lambda_context
    message = LookMessage.model_validate_json(record.body)
    logger.append_keys(update_id=message.update_id)
    invocation = Invocation(context.get_remaining_time_in_millis() / 1000, int(context.memory_limit_in_mb))
    composition.look_at_update()(message, invocation)


@logger.inject_lambda_context
@publish_metrics
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return process_partial_response(event=event, record_handler=_look, processor=processor, context=context)
