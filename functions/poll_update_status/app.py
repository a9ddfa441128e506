"""PollUpdateStatus: state machine task in the wait loop — one look at finAPI, then the next step."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from bankupdate import wiring
from bankupdate.domain.tasks import PollInput
from bankupdate.observability import logger, metrics, tracer
from bankupdate.usecases.poll_update import poll_update


@logger.inject_lambda_context
@metrics.log_metrics
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    task = PollInput.model_validate(event)
    logger.append_keys(update_id=task.update_id)
    return poll_update(wiring.services(), task.update_id).to_state()
