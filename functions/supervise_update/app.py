"""SuperviseUpdate: the workflow's one task per update (waitForTaskToken) — park the token, drive the update."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from bankupdate import composition
from bankupdate.contract import SuperviseTask
from bankupdate.observability import logger, publish_metrics, tracer
from bankupdate.ports import Invocation


@logger.inject_lambda_context
@publish_metrics
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> None:
    task = SuperviseTask.model_validate(event)
    logger.append_keys(update_id=task.update_id)
    invocation = Invocation(context.get_remaining_time_in_millis() / 1000, int(context.memory_limit_in_mb))
    composition.supervise_update()(task.update_id, task.task_token, invocation)
