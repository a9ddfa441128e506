"""ParkTaskToken: AwaitUser and AwaitCallback (lambda:invoke.waitForTaskToken) — park the wait's token on the update."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from bankupdate import composition
from bankupdate.contract import ParkTask
from bankupdate.observability import logger, publish_metrics, tracer


@logger.inject_lambda_context
@publish_metrics
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> None:
    task = ParkTask.model_validate(event)
    logger.append_keys(update_id=task.update_id)
    composition.park_task_token()(task.update_id, task.task_token, task.purpose)
