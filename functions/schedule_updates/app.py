"""ScheduleUpdates: invoked by EventBridge Scheduler — queue every connection that is due."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from bankupdate import composition
from bankupdate.observability import logger, publish_metrics, tracer


@logger.inject_lambda_context
@publish_metrics
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, int]:
    run = composition.schedule_updates()()
    return {"due": run.due, "enqueued": run.enqueued, "queueCalls": run.queue_calls}
