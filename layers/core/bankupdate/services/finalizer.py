"""Finishing an update: the one way every update ends, whoever notices that it is over.

Order, so that a crash anywhere is repaired by repeating: (1) the terminal status, (2) the outcome events, (3) the
connection's health and schedule written in the same write that releases the lock, (4) the workflow task waiting on
the update released (the one the terminal write found parked, or the caller's own). A repeat finds the record
terminal; while the lock is still held by the update, steps 2-4 are redone (events are therefore at least once),
afterwards only step 4.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from bankupdate.contract import PollEntry, WorkflowOutput
from bankupdate.domain import lifecycle
from bankupdate.domain.errors import NotFound, UnattendedBudgetExhausted, UpdateError
from bankupdate.domain.events import ConnectionNeedsUser, UpdateFinished
from bankupdate.domain.model import (
    ConnectionHealth,
    ConnectionRecord,
    SkipReason,
    UpdateMode,
    UpdateRecord,
    UpdateStatus,
)
from bankupdate.observability import logger, metrics
from bankupdate.ports import (
    Clock,
    ConnectionOutcome,
    ConnectionStore,
    EventBus,
    StaleUpdate,
    StoredUpdate,
    UpdateStore,
    Workflow,
)
from bankupdate.settings import Settings

_SAVE_ATTEMPTS = 3


def health_after(previous: ConnectionHealth, record: UpdateRecord) -> ConnectionHealth:
    now = record.updated_at
    if record.status is UpdateStatus.SUCCEEDED:
        result = record.result
        return previous.model_copy(
            update={
                "last_attempt_at": now,
                "last_success_at": now,
                "last_outcome": record.status,
                "last_error": None,
                "user_action_required": False,
                "consent_expires_at": (result.consent_expires_at if result else None) or previous.consent_expires_at,
                "known_account_ids": tuple(a.account_id for a in result.accounts) if result else (),
            }
        )
    error = record.error
    return previous.model_copy(
        update={
            "last_attempt_at": now,
            "last_outcome": record.status,
            "last_error": error,
            # Transient failures say nothing about the user; only a failure that needs the user sets the flag.
            "user_action_required": previous.user_action_required or bool(error and error.user_action_required),
        }
    )


@dataclass
class Finalizer:
    updates: UpdateStore
    connections: ConnectionStore
    events: EventBus
    workflow: Workflow
    clock: Clock
    settings: Settings

    def fail(
        self, update_id: str, error: UpdateError, polls: tuple[PollEntry, ...] = (), task_token: str | None = None
    ) -> UpdateRecord:
        """Record ``error`` (unless the update already has an outcome) and finish. ``task_token``: the workflow task
        to end when the record holds none (a finished record's went with its finish)."""
        for _ in range(_SAVE_ATTEMPTS):
            stored = self._stored(update_id)
            record = stored.record
            if record.status.is_terminal or record.error is not None or record.result is not None:
                return self.finish(StoredUpdate(record, stored.task_token or task_token), polls)
            failed = lifecycle.fail(record, error, self.clock.now()).record
            try:
                saved = self.updates.save(failed, expected_version=record.version)
            except StaleUpdate:
                continue
            return self.finish(saved, polls)
        raise StaleUpdate(update_id)

    def finish(self, stored: StoredUpdate, polls: tuple[PollEntry, ...] = ()) -> UpdateRecord:
        """End the update whose outcome (result or error) is recorded; repair it if it ended before. ``polls``: the
        story of the polls, for the workflow's history."""
        for _ in range(_SAVE_ATTEMPTS):
            record = stored.record
            if record.status.is_terminal:
                self._consequences(record, stored.task_token, repeat=True, polls=polls)
                return record
            finished = lifecycle.finish(record, self.clock.now())
            try:
                saved = self.updates.save(finished, expected_version=record.version)
            except StaleUpdate:
                stored = self._stored(record.update_id)
                continue
            finished = saved.record
            metrics.add_metric(name=f"Update{finished.status.value.title()}", unit="Count", value=1)
            logger.info(
                "update finished",
                extra={"status": finished.status.value, "error_code": finished.error.code if finished.error else None},
            )
            self._consequences(finished, saved.task_token or stored.task_token, repeat=False, polls=polls)
            return finished
        raise StaleUpdate(stored.record.update_id)

    def _stored(self, update_id: str) -> StoredUpdate:
        stored = self.updates.get(update_id)
        if stored is None:
            raise NotFound(f"update {update_id} does not exist")
        return stored

    def _consequences(
        self, finished: UpdateRecord, task_token: str | None, *, repeat: bool, polls: tuple[PollEntry, ...]
    ) -> None:
        connection = self.connections.get(finished.owner_id, finished.connection_id)
        holds_lock = connection is not None and connection.active_update_id == finished.update_id
        if not repeat or holds_lock:
            self._publish(finished, connection)
            if connection is not None:
                self.connections.release(
                    finished.owner_id,
                    finished.connection_id,
                    update_id=finished.update_id,
                    outcome=self._outcome(finished, connection),
                )
        if task_token is not None:
            output = WorkflowOutput(update_id=finished.update_id, status=finished.status, polls=polls)
            self.workflow.release(task_token, output)

    def _publish(self, finished: UpdateRecord, connection: ConnectionRecord | None) -> None:
        self.events.publish(UpdateFinished.of(finished))
        error = finished.error
        scheduled = connection is not None and connection.schedule.enabled
        if scheduled and error is not None and error.user_action_required:
            self.events.publish(
                ConnectionNeedsUser(
                    owner_id=finished.owner_id,
                    connection_id=finished.connection_id,
                    update_id=finished.update_id,
                    reason=error.code,
                    user_message=error.user_message,
                    action_url=error.action_url,
                )
            )

    def _outcome(self, finished: UpdateRecord, connection: ConnectionRecord) -> ConnectionOutcome:
        """Health, and what the schedule does next: needing the user stops background updates, a user-present
        success brings them back, a spent budget waits for the bank's next day."""
        health = health_after(connection.health, finished)
        if not connection.schedule.enabled:
            return ConnectionOutcome(health=health)
        now: datetime = finished.updated_at
        error = finished.error
        if finished.status is UpdateStatus.SUCCEEDED and finished.mode is UpdateMode.USER_PRESENT:
            next_due = now + timedelta(minutes=self.settings.schedule_interval_minutes)
            return ConnectionOutcome(health=health, next_due_at=next_due, reschedule=True)
        if error is not None and error.user_action_required:
            return ConnectionOutcome(health=health, reschedule=True, skip=SkipReason.USER_ACTION_REQUIRED)
        if error is not None and error.code == UnattendedBudgetExhausted.code:
            next_day = self.settings.budget.next_day_start(now)
            return ConnectionOutcome(
                health=health, next_due_at=next_day, reschedule=True, skip=SkipReason.BUDGET_EXHAUSTED
            )
        return ConnectionOutcome(health=health)
