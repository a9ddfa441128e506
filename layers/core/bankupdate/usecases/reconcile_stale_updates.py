"""ReconcileStaleUpdates (every few minutes): no update stays open, and no connection stays locked, because a
workflow was never started, ended without finishing its update, or failed in Finalize.

Two sweeps: open updates older than the grace period whose workflow is missing or over (the sparse ``ACTIVE``
index of update records), and updates whose workflow failed recently (Finalize gave up: the lock may still be held).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from bankupdate.observability import logger, metrics
from bankupdate.ports import Clock, UpdateStore, Workflow
from bankupdate.services.finalizer import Finalizer
from bankupdate.services.recovery import Recovery
from bankupdate.settings import Settings

# A run looks this far back for failed workflows: several runs overlap, so one failing run loses nothing.
FAILED_LOOKBACK = timedelta(hours=1)


@dataclass(frozen=True)
class ReconcileRun:
    open_checked: int
    recovered: int
    failed_repaired: int


@dataclass
class ReconcileStaleUpdates:
    updates: UpdateStore
    workflow: Workflow
    recovery: Recovery
    finalizer: Finalizer
    clock: Clock
    settings: Settings

    def __call__(self) -> ReconcileRun:
        now = self.clock.now()
        checked = recovered = repaired = 0
        for update_id in self.updates.open_updates(
            created_before=now - timedelta(seconds=self.settings.orphan_grace_seconds)
        ):
            checked += 1
            if self.recovery.recover(update_id):
                recovered += 1
        longest_run = timedelta(seconds=self.settings.lock_lease_seconds)
        failed = self.workflow.recently_failed(stopped_since=now - FAILED_LOOKBACK, started_since=now - longest_run)
        for update_id in failed:
            stored = self.updates.get(update_id)
            if stored is not None and stored.record.status.is_terminal:
                self.finalizer.finish(stored)  # releases the lock if the failed Finalize left it held
                repaired += 1
        metrics.add_metric(name="StaleUpdatesRecovered", unit="Count", value=recovered)
        logger.info("reconciled", extra={"open_checked": checked, "recovered": recovered, "repaired": repaired})
        return ReconcileRun(open_checked=checked, recovered=recovered, failed_repaired=repaired)
