"""AwaitUser: waitForTaskToken task — park the token until the user answered the bank's challenge."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from bankupdate import wiring
from bankupdate.domain.tasks import AwaitUserInput
from bankupdate.observability import logger, metrics, tracer
from bankupdate.usecases.await_user import await_user


@logger.inject_lambda_context
@metrics.log_metrics
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> None:
    task = AwaitUserInput.model_validate(event)
    logger.append_keys(update_id=task.update_id)
    await_user(wiring.services(), task.update_id, task.task_token)
