"""PollUpdateStatus: the poll loop's Poll state (lambda:invoke) — one poll at finAPI; the loop's next state back."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from bankupdate import composition
from bankupdate.contract import PollRequest
from bankupdate.observability import logger, publish_metrics, tracer


@logger.inject_lambda_context
@publish_metrics
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    request = PollRequest.model_validate(event)
    logger.append_keys(update_id=request.loop.update_id)
    return composition.poll_update_status()(request).model_dump(mode="json", by_alias=True)
