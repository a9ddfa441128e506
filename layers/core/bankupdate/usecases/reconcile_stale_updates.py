"""ReconcileStaleUpdates (every few minutes): no update stays open, and no connection stays locked, because a
workflow was never started, ended without finishing its update, or failed in Finalize.

Two sweeps: open updates older than the grace period whose workflow is missing or over (the sparse ``ACTIVE``
index of update records), and updates whose workflow failed recently (Finalize gave up: the lock may still be held).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from bankupdate.domain.errors import AwsThrottled
from bankupdate.observability import logger, metrics
from bankupdate.ports import Clock, UpdateStore, Workflow
from bankupdate.services.finalizer import Finalizer
from bankupdate.services.recovery import Recovery
from bankupdate.settings import Settings

# A run looks this far back for failed workflows: several runs overlap, so one failing run loses nothing.
FAILED_LOOKBACK = timedelta(hours=1)
# The open-update sweep stops with this much of the invocation left, for the failed-workflow sweep and the metrics:
# at night tens of thousands of updates are open, and DescribeExecution allows 10 a second in most Regions.
SWEEP_RESERVE_SECONDS = 30.0


@dataclass(frozen=True)
class ReconcileRun:
    open_checked: int
    recovered: int
    failed_repaired: int
    throttled: bool = False  # a sweep stopped at a throttle; the next run goes on (oldest first, the same hour back)
    out_of_time: bool = False  # the open-update sweep stopped to end within the invocation's time


@dataclass
class ReconcileStaleUpdates:
    updates: UpdateStore
    workflow: Workflow
    recovery: Recovery
    finalizer: Finalizer
    clock: Clock
    settings: Settings

    def __call__(self, time_left: Callable[[], float] = lambda: math.inf) -> ReconcileRun:
        """``time_left``: seconds the invocation has left (Lambda's context)."""
        now = self.clock.now()
        checked = recovered = repaired = 0
        throttled = out_of_time = False
        for update_id in self.updates.open_updates(
            created_before=now - timedelta(seconds=self.settings.orphan_grace_seconds)
        ):
            if time_left() < SWEEP_RESERVE_SECONDS:
                out_of_time = True  # the next run starts from the oldest again
                break
            checked += 1
            try:
                if self.recovery.recover(update_id):
                    recovered += 1
            except AwsThrottled:
                # Step Functions' rate is spent (DescribeExecution allows 10 a second in most Regions): the rest
                # waits for the next run, oldest first again, instead of failing this one and its retries.
                _throttled("open updates", checked)
                throttled = True
                break
        longest_run = timedelta(seconds=self.settings.lock_lease_seconds)
        failed = self.workflow.recently_failed(stopped_since=now - FAILED_LOOKBACK, started_since=now - longest_run)
        try:
            for update_id in failed:
                stored = self.updates.get(update_id)
                if stored is not None and stored.record.status.is_terminal:
                    self.finalizer.finish(stored)  # releases the lock if the failed Finalize left it held
                    repaired += 1
        except AwsThrottled:
            # ListExecutions (or a repair's call) refused for rate: the next runs look back over the same hour
            _throttled("failed workflows", repaired)
            throttled = True
        metrics.add_metric(name="StaleUpdatesRecovered", unit="Count", value=recovered)
        logger.info(
            "reconciled",
            extra={"open_checked": checked, "recovered": recovered, "repaired": repaired, "out_of_time": out_of_time},
        )
        return ReconcileRun(checked, recovered, repaired, throttled=throttled, out_of_time=out_of_time)


def _throttled(sweep: str, done: int) -> None:
    logger.warning(
        "reconciler stopped a sweep early: AWS refused its calls for rate", extra={"sweep": sweep, "done": done}
    )
    metrics.add_metric(name="ReconcilerThrottled", unit="Count", value=1)
