"""Finalize: reached through a Catch — end an update its workflow could not see through."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from bankupdate import composition
from bankupdate.contract import FinalizeTask
from bankupdate.observability import logger, publish_metrics, tracer


@logger.inject_lambda_context
@publish_metrics
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    task = FinalizeTask.model_validate(event)
    logger.append_keys(update_id=task.update_id)
    output = composition.finalize_update()(task.update_id, task.failure, task.parent_token)
    return output.model_dump(mode="json", by_alias=True)
