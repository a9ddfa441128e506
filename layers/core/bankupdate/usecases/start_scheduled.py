"""StartScheduledUpdate: for one due connection, apply the skip rules, then start exactly one workflow per slot."""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum

from bankupdate.domain import events
from bankupdate.domain.model import ConnectionRecord, SkipReason, UpdateMode, UpdateRecord, UpdateStatus
from bankupdate.domain.scheduling import consent_expiring, scheduled_update_id, skip_reason
from bankupdate.domain.steps import NextStep, StepOutput
from bankupdate.observability import logger, metrics
from bankupdate.usecases.progress import workflow_input
from bankupdate.usecases.services import Services

# Skips that only the user can end take the connection out of the due index (Finalize puts it back after a
# user-present success); the others just wait for their next slot.
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


def _next_slot(services: Services, now: datetime) -> datetime:
    return now + timedelta(minutes=services.settings.schedule_interval_minutes)


def start_scheduled_update(services: Services, *, owner_id: str, connection_id: int, slot: datetime) -> ScheduledStart:
    now = services.clock()
    connection = services.connections.get(owner_id, connection_id)
    if connection is None:
        return ScheduledStart.GONE
    _warn_if_consent_expiring(services, connection, now)

    update_id = scheduled_update_id(owner_id, connection_id, slot)
    if connection.schedule.next_due_at is not None and connection.schedule.next_due_at > slot:
        # This slot was served already (the schedule fired twice, or SQS delivered again): make sure the start
        # happened, never start a second one.
        existing = services.updates.get(update_id)
        if existing is not None:
            services.workflow.start(update_id, workflow_input(services, update_id, StepOutput(next=NextStep.START)))
        return ScheduledStart.DUPLICATE

    budget = services.budget
    reason = skip_reason(connection, now=now, remaining_budget=budget.remaining(connection.unattended, now))
    if reason is not None:
        next_due = None if reason in _LEAVES_INDEX else _next_slot(services, now)
        if reason is SkipReason.BUDGET_EXHAUSTED:
            next_due = budget.next_day_start(now)
        services.schedules.reschedule(owner_id, connection_id, next_due_at=next_due, skip=reason, now=now)
        metrics.add_metric(name=f"ScheduledSkip{reason.value.title().replace('_', '')}", unit="Count", value=1)
        logger.info("scheduled update skipped", extra={"connection_id": connection_id, "reason": reason.value})
        return ScheduledStart.SKIPPED

    record = UpdateRecord(
        update_id=update_id,
        owner_id=owner_id,
        connection_id=connection_id,
        mode=UpdateMode.UNATTENDED,
        status=UpdateStatus.PENDING,
        created_at=now,
        updated_at=now,
        known_account_ids=connection.health.known_account_ids,
        execution_arn=services.workflow.execution_arn(update_id),
    )
    services.updates.create_if_absent(record)
    services.workflow.start(update_id, workflow_input(services, update_id, StepOutput(next=NextStep.START)))
    services.schedules.reschedule(owner_id, connection_id, next_due_at=_next_slot(services, now), skip=None, now=now)
    return ScheduledStart.STARTED


def _warn_if_consent_expiring(services: Services, connection: ConnectionRecord, now: datetime) -> None:
    window = timedelta(days=services.settings.consent_warning_days)
    expires = connection.health.consent_expires_at
    if expires is None or not consent_expiring(connection, now=now, window=window):
        return
    if services.schedules.mark_consent_warned(connection.owner_id, connection.connection_id, expires):
        services.events.publish(
            events.CONSENT_EXPIRING,
            events.ConsentExpiringSoon(
                owner_id=connection.owner_id, connection_id=connection.connection_id, consent_expires_at=expires
            ),
        )
