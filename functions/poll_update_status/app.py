"""PollUpdateStatus: state machine task in the wait loop — looks at finAPI, then names the next step and wait."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from bankupdate import wiring
from bankupdate.domain.tasks import PollInput
from bankupdate.observability import logger, metrics, tracer
from bankupdate.usecases.poll_update import Invocation, poll_update


@logger.inject_lambda_context
@metrics.log_metrics
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    task = PollInput.model_validate(event)
    logger.append_keys(update_id=task.update_id)
    invocation = Invocation(
        seconds_left=context.get_remaining_time_in_millis() / 1000, memory_mb=int(context.memory_limit_in_mb)
    )
    return poll_update(wiring.services(), task.update_id, invocation).to_state()
