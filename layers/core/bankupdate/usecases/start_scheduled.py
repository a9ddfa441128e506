"""StartScheduledUpdate: for one due connection, apply the skip rules, then start exactly one workflow per slot."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from bankupdate.contract import DueConnection
from bankupdate.domain import lifecycle
from bankupdate.domain.events import ConsentExpiringSoon
from bankupdate.domain.model import ConnectionRecord, SkipReason
from bankupdate.domain.scheduling import consent_expiring, scheduled_update_id, skip_reason
from bankupdate.flow.recovery import workflow_input
from bankupdate.observability import logger, metrics
from bankupdate.ports import Clock, ConnectionStore, EventBus, ScheduleStore, UpdateStore, Workflow
from bankupdate.settings import Settings

# Skips that only the user can end take the connection out of the due index (a user-present success puts it back);
# the others just wait for their next slot.
_LEAVES_INDEX = frozenset(
    {
        SkipReason.SCHEDULE_DISABLED,
        SkipReason.USER_ACTION_REQUIRED,
        SkipReason.CONSENT_EXPIRED,
        SkipReason.PERMANENT_ERROR,
    }
)


class ScheduledStart(StrEnum):
    STARTED = "STARTED"
    SKIPPED = "SKIPPED"
    DUPLICATE = "DUPLICATE"
    GONE = "GONE"


@dataclass
class StartScheduledUpdate:
    connections: ConnectionStore
    schedules: ScheduleStore
    updates: UpdateStore
    workflow: Workflow
    events: EventBus
    clock: Clock
    settings: Settings

    def __call__(self, due: DueConnection) -> ScheduledStart:
        now = self.clock.now()
        owner_id, connection_id, slot = due.owner_id, due.connection_id, due.slot
        connection = self.connections.get(owner_id, connection_id)
        if connection is None:
            return ScheduledStart.GONE
        self._warn_if_consent_expiring(connection, now)

        update_id = scheduled_update_id(owner_id, connection_id, slot)
        if connection.schedule.next_due_at is not None and connection.schedule.next_due_at > slot:
            # This slot was served already (the schedule fired twice, or SQS delivered again): make sure the start
            # happened, never start a second one.
            if self.updates.get(update_id) is not None:
                self.workflow.start(workflow_input(update_id, self.settings))
            return ScheduledStart.DUPLICATE

        budget = self.settings.budget
        reason = skip_reason(connection, now=now, remaining_budget=budget.remaining(connection.unattended, now))
        if reason is not None:
            next_due = None if reason in _LEAVES_INDEX else self._next_slot(now)
            if reason is SkipReason.BUDGET_EXHAUSTED:
                next_due = budget.next_day_start(now)
            self.schedules.reschedule(owner_id, connection_id, next_due_at=next_due, skip=reason, now=now)
            metrics.add_metric(name=f"ScheduledSkip{reason.value.title().replace('_', '')}", unit="Count", value=1)
            logger.info("scheduled update skipped", extra={"connection_id": connection_id, "reason": reason.value})
            return ScheduledStart.SKIPPED

        record = lifecycle.new_unattended(
            update_id=update_id,
            owner_id=owner_id,
            connection_id=connection_id,
            integration=self.settings.integration,
            known_account_ids=connection.health.known_account_ids,
            execution_arn=self.workflow.execution_arn(update_id),
            now=now,
        )
        self.updates.create(record)
        self.workflow.start(workflow_input(update_id, self.settings))
        self.schedules.reschedule(owner_id, connection_id, next_due_at=self._next_slot(now), skip=None, now=now)
        return ScheduledStart.STARTED

    def _next_slot(self, now: datetime) -> datetime:
        return now + timedelta(minutes=self.settings.schedule_interval_minutes)

    def _warn_if_consent_expiring(self, connection: ConnectionRecord, now: datetime) -> None:
        window = timedelta(days=self.settings.consent_warning_days)
        expires = connection.health.consent_expires_at
        if expires is None or not consent_expiring(connection, now=now, window=window):
            return
        if self.schedules.mark_consent_warned(connection.owner_id, connection.connection_id, expires):
            self.events.publish(
                ConsentExpiringSoon(
                    owner_id=connection.owner_id, connection_id=connection.connection_id, consent_expires_at=expires
                )
            )
