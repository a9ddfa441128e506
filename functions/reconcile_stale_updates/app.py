"""ReconcileStaleUpdates: invoked by EventBridge Scheduler every few minutes — no update or lock is left behind."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from bankupdate import composition
from bankupdate.observability import logger, publish_metrics, tracer


@logger.inject_lambda_context
@publish_metrics
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, int | bool]:
    run = composition.reconcile_stale_updates()(lambda: context.get_remaining_time_in_millis() / 1000)
    return {
        "openChecked": run.open_checked,
        "recovered": run.recovered,
        "failedRepaired": run.failed_repaired,
        "throttled": run.throttled,
        "outOfTime": run.out_of_time,
    }
