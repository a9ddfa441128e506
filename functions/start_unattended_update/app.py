"""StartUnattendedUpdate: state machine task that starts a scheduled update (no PSU data, within the budget)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from bankupdate import wiring
from bankupdate.domain.schedule_messages import StartInput
from bankupdate.observability import logger, metrics, tracer
from bankupdate.usecases.start_unattended import start_unattended_update


@logger.inject_lambda_context
@metrics.log_metrics
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    task = StartInput.model_validate(event)
    logger.append_keys(update_id=task.update_id)
    return start_unattended_update(wiring.services(), task.update_id).to_state()
