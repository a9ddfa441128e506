"""Finalize: state machine task — end the update (terminal state, health, lock, outcome event)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from bankupdate import wiring
from bankupdate.domain.tasks import FinalizeInput
from bankupdate.observability import logger, metrics, tracer
from bankupdate.usecases.finalize_update import finalize_from_workflow


@logger.inject_lambda_context
@metrics.log_metrics
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    task = FinalizeInput.model_validate(event)
    logger.append_keys(update_id=task.update_id)
    record = finalize_from_workflow(wiring.services(), task.update_id, task.failure)
    return {"updateId": record.update_id, "status": record.status.value}
