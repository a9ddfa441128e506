"""StartScheduledUpdate: for one due connection, apply the skip rules, then start exactly one update per slot.

The unattended update is started here, as a user-present one is by its trigger: the update's record first (its id
is the slot's, so a repeated delivery finds it), then the claim that finAPI is being called (a conditional write:
one delivery wins it), the connection's lock, one unit of the bank's day's budget, finAPI without PSU data, and the
workflow (started by name). A delivery that finds the record goes on from wherever the record stands: finAPI is never
called twice and the budget never spent twice for one slot (both come after the claim).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from bankupdate.contract import DueConnection
from bankupdate.domain import lifecycle
from bankupdate.domain.errors import (
    AwsThrottled,
    BankUpdateError,
    UnattendedBudgetExhausted,
    UpdateAlreadyRunning,
    UpstreamUnavailable,
    UserActionRequired,
)
from bankupdate.domain.events import ConsentExpiringSoon
from bankupdate.domain.model import ConnectionRecord, SkipReason, UpdateStatus
from bankupdate.domain.redelivery import ThrottledRetry
from bankupdate.domain.scheduling import consent_expiring, scheduled_update_id, skip_reason
from bankupdate.domain.upstream import Accepted, StartOutcome, StartRequest
from bankupdate.observability import logger, metrics
from bankupdate.ports import (
    BankGateway,
    Clock,
    ConnectionStore,
    DueQueue,
    EventBus,
    ScheduleStore,
    StaleUpdate,
    StoredUpdate,
    UpdateStore,
    Workflow,
)
from bankupdate.services.callbacks import CallbackLinks
from bankupdate.services.finalizer import Finalizer
from bankupdate.services.locks import ConnectionLocks
from bankupdate.services.progress import Progress
from bankupdate.services.recovery import workflow_input
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


class StartPostponed(Exception):
    """Too little of the invocation is left for a start to finish: the message goes back to its queue."""


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
    locks: ConnectionLocks
    gateway: BankGateway
    workflow: Workflow
    progress: Progress
    finalizer: Finalizer
    events: EventBus
    clock: Clock
    settings: Settings
    # Where finAPI's Web Form 2.0 callbacks reach the API: a scheduled update gets them like a user-present one.
    callback_base_url: Callable[[], str] | None = None

    def __call__(self, due: DueConnection, *, seconds_left: float | None = None) -> ScheduledStart:
        if seconds_left is not None and seconds_left < self.settings.start_reserve_seconds:
            raise StartPostponed(f"{seconds_left:.0f} s left, a start may take {self.settings.start_reserve_seconds} s")
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
            stored = self.updates.get(update_id)
            if stored is not None:
                self._start(stored)
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
        if not self.updates.create(record):
            found = self.updates.get(update_id)
            record = found.record if found is not None else record
        self.schedules.reschedule(owner_id, connection_id, next_due_at=self._next_slot(now), skip=None, now=now)
        self._start(StoredUpdate(record))
        return ScheduledStart.STARTED

    def _start(self, stored: StoredUpdate) -> None:
        """Go on from where the record stands, then make sure the workflow runs (a repeated start is harmless)."""
        record = stored.record
        if record.status.is_terminal:
            return
        if record.status is UpdateStatus.PENDING:
            if record.finapi_called_at is None:
                if not self._call_finapi(stored):
                    return
            elif self.clock.now() - record.finapi_called_at < timedelta(seconds=self.settings.start_reserve_seconds):
                # Another delivery of this slot is calling finAPI right now: it starts the workflow with the answer.
                # (Only when it has had time to end is it taken for dead, and the workflow polls without an answer.)
                return
        self.workflow.start(workflow_input(record.update_id, self.settings))

    def _call_finapi(self, stored: StoredUpdate) -> bool:
        """Whether the update goes on (its workflow must run): False when it ended here, or when another delivery of
        the same slot is starting it (which starts the workflow too)."""
        record = stored.record
        now = self.clock.now()
        try:
            # The claim: from this write on, no delivery calls finAPI for this update again; whoever wrote it takes
            # the lock and spends the budget, once.
            calling = self.updates.save(
                lifecycle.calling_upstream(record, now, self.settings.timing), expected_version=record.version
            )
        except StaleUpdate:
            logger.info("another delivery of this slot is starting the update")
            return False
        lock = self.locks.take(record.owner_id, record.connection_id, record.update_id)
        if lock.refused is not None:
            running = UpdateAlreadyRunning(f"update {lock.holder} is running", details={"updateId": lock.holder})
            self.finalizer.fail(record.update_id, running.to_update_error())
            return False
        budget = self.settings.budget
        if not self.schedules.consume_unattended(record.owner_id, record.connection_id, budget=budget, now=now):
            spent = UnattendedBudgetExhausted(f"{budget.usable_per_day} unattended updates used today")
            self.finalizer.fail(record.update_id, spent.to_update_error())
            return False
        callbacks = None
        if self.callback_base_url is not None:
            links = CallbackLinks(self.updates, self.clock, self.settings, self.callback_base_url)
            callbacks = links.for_update(record)
        request = StartRequest(connection_id=record.connection_id, options=record.options, callbacks=callbacks)
        try:
            outcome: StartOutcome = self.gateway.start(record.owner_id, request)
        except UpstreamUnavailable as error:
            if error.upstream_status is not None:
                self.finalizer.fail(record.update_id, error.to_update_error())
                return False
            return self._go(calling, Accepted(), confirmed=False)  # no answer at all: finAPI may be downloading
        except BankUpdateError as error:
            self.finalizer.fail(record.update_id, _unattended(error).to_update_error())
            return False
        return self._go(calling, outcome, confirmed=True)

    def _go(self, stored: StoredUpdate, outcome: StartOutcome, *, confirmed: bool) -> bool:
        transition = self.progress.transition_for(stored.record, outcome, confirmed=confirmed)
        return not self.progress.apply(stored, transition).record.status.is_terminal

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


@dataclass
class DeliverDueConnection:
    """One delivery of a due connection's message to StartScheduledUpdate, and what becomes of it when AWS refused the
    start for rate: it comes back sooner than the queue's visibility timeout, and spread (decision D39)."""

    start: StartScheduledUpdate
    queue: DueQueue
    retry: ThrottledRetry
    draw: Callable[[], float] = random.random

    def __call__(
        self, due: DueConnection, *, receipt: str, receives: int, seconds_left: float | None = None
    ) -> ScheduledStart:
        """``receipt`` and ``receives``: the message's receipt handle and its receive count, this receive included.
        Raises what the start raised (the message is reported failed and comes back); a rate refusal first brings its
        return forward."""
        try:
            return self.start(due, seconds_left=seconds_left)
        except AwsThrottled:
            seconds = self.retry.delay(receives, self.draw())
            try:
                self.queue.come_back_in(receipt, seconds)
            except Exception:  # it comes back when the visibility timeout of its receive ends, as without D39
                logger.warning("a refused start keeps the queue's visibility timeout", exc_info=True)
            else:
                metrics.add_metric(name="ThrottledStartBroughtForward", unit="Count", value=1)
                logger.info(
                    "a start refused for rate comes back sooner",
                    extra={"connection_id": due.connection_id, "receives": receives, "in_seconds": seconds},
                )
            raise


def _unattended(error: BankUpdateError) -> BankUpdateError:
    """Nobody is there to answer: whatever needs the user is "user action required" for a scheduled update."""
    if error.user_action_required:
        return UserActionRequired(
            error.message,
            user_message=error.user_message,
            upstream_code=error.upstream_code,
            action_url=error.action_url,
        )
    return error
