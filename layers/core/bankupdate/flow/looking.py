"""Looking at finAPI until the update ends: short gaps slept in the worker, long ones parked on the look timer.

A look reads nothing from DynamoDB while the download runs: what it needs travels in the ``LookMessage``. The record
is read when something changes (the download ended, failed, or Web Form 2.0 moved between the user and the
background) and when the workflow needs a sign of life (its task token lives on the record).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from bankupdate.contract import LookMessage
from bankupdate.domain import lifecycle
from bankupdate.domain.backoff import WaitCost, plan_wait
from bankupdate.domain.errors import BankUpdateError, UpdateLockedUpstream, UpdateTimedOut, UpstreamUnavailable
from bankupdate.domain.model import UpdateResult, UpdateStatus
from bankupdate.domain.upstream import Done, Failed, LookOutcome, StillRunning, UserNeeded, Watch
from bankupdate.flow.finish import Completion
from bankupdate.flow.progress import Progress
from bankupdate.flow.what_changed import WhatChanged
from bankupdate.observability import logger
from bankupdate.ports import BankGateway, Clock, Invocation, LookTimer, StoredUpdate, UpdateStore, Workflow
from bankupdate.settings import Settings

# What one more look needs after the last sleep: a finAPI call (its timeout) and a save, with room to spare.
_LOOK_RESERVE_SECONDS = 5.0
_TRANSIENT = (UpstreamUnavailable, UpdateLockedUpstream)


@dataclass
class LookLoop:
    gateway: BankGateway
    updates: UpdateStore
    workflow: Workflow
    timer: LookTimer
    progress: Progress
    completion: Completion
    clock: Clock
    settings: Settings
    what_changed: WhatChanged

    def run(self, message: LookMessage, invocation: Invocation) -> None:
        """Look now; sleep the gaps worth sleeping; park the first one that is not on the timer, then return."""
        started = self.clock.monotonic()
        inline_limit = self._inline_limit(invocation)
        current: LookMessage | None = message
        while current is not None:
            now, look_started = self.clock.now(), self.clock.monotonic()
            outcome = self._look(current, now)
            current = self._follow(current.model_copy(update={"looks": current.looks + 1}), outcome, now)
            if current is None or not current.chain:
                return
            plan = plan_wait(
                self.settings.poll_schedule,
                elapsed_seconds=(now - current.triggered_at).total_seconds(),
                until_deadline_seconds=(current.deadline_at - now).total_seconds(),
                inline_max_gap_seconds=inline_limit,
                invocation_seconds_left=invocation.seconds_left
                - (self.clock.monotonic() - started)
                - self.settings.finapi_timeout_seconds
                - _LOOK_RESERVE_SECONDS,
                longest_gap_seconds=self.settings.longest_gap_seconds,
                since_look_seconds=self.clock.monotonic() - look_started,
            )
            current = self._keep_workflow_waiting(current, now, plan.gap_seconds)
            if current is None:
                return
            if not plan.inline:
                self.timer.schedule(current, plan.timer_delay_seconds)
                return
            self.clock.sleep(plan.sleep_seconds)

    def park(self, message: LookMessage) -> None:
        """Put the next look on the timer without looking now (nothing is slept: the gap is the poll schedule's)."""
        now = self.clock.now()
        plan = plan_wait(
            self.settings.poll_schedule,
            elapsed_seconds=(now - message.triggered_at).total_seconds(),
            until_deadline_seconds=(message.deadline_at - now).total_seconds(),
            inline_max_gap_seconds=0,
            invocation_seconds_left=0,
            longest_gap_seconds=self.settings.longest_gap_seconds,
        )
        self.timer.schedule(message, plan.timer_delay_seconds)

    def _inline_limit(self, invocation: Invocation) -> float:
        configured = self.settings.poll_inline_max_gap_seconds
        return configured if configured is not None else WaitCost(invocation.memory_mb).break_even_gap_seconds()

    def _look(self, message: LookMessage, now: datetime) -> LookOutcome:
        watch = Watch(
            connection_id=message.connection_id,
            interface=message.interface,
            upstream_ref=message.upstream_ref,
            triggered_at=message.triggered_at,
            deadline_at=message.deadline_at,
            wait_for_categorization=message.wait_for_categorization,
            start_confirmed=message.start_confirmed,
            waiting_for_user=message.waiting_for_user,
        )
        try:
            return self.gateway.look(message.owner_id, watch, now)
        except _TRANSIENT as error:
            if now >= message.deadline_at and not message.waiting_for_user:
                return Failed(UpdateTimedOut(f"finAPI could not be asked before the deadline: {error.message}"))
            logger.warning("look failed, trying again later", extra={"error_code": error.code})
            return StillRunning()
        except BankUpdateError as error:
            return Failed(error)

    def _follow(self, message: LookMessage, outcome: LookOutcome, now: datetime) -> LookMessage | None:
        """Act on what the look saw; the message for the next look, or None when this chain is over."""
        if isinstance(outcome, Failed):
            self.completion.fail(message.update_id, outcome.error.to_update_error())
            return None
        if isinstance(outcome, Done):
            self._succeed(message, outcome, now)
            return None
        if isinstance(outcome, UserNeeded):
            if message.waiting_for_user:
                return message
            stored = self._open_record(message.update_id)
            if stored is None:
                return None
            shown = stored.record.challenge
            if shown is None or shown.web_form_url != outcome.challenge.web_form_url:
                # Not shown yet (another look, e.g. a callback's, may have shown this very form already).
                transition = lifecycle.needs_user(stored.record, outcome.challenge, now, self.settings.timing)
                if self.progress.apply(stored, transition, from_api=False).status.is_terminal:
                    return None
            return message.model_copy(update={"waiting_for_user": True, "alive_at": now})
        assert isinstance(outcome, StillRunning)
        if not message.waiting_for_user:
            return message
        # Web Form 2.0: the user completed the form; the background update continues and its deadline starts now.
        stored = self._open_record(message.update_id)
        if stored is None:
            return None
        running = stored.record
        if running.status is UpdateStatus.AUTHENTICATION_REQUIRED:
            transition = lifecycle.accepted(running, now, self.settings.timing)
            running = self.progress.apply(stored, transition, from_api=False)
        return message.model_copy(
            update={
                "waiting_for_user": False,
                "alive_at": now,
                "triggered_at": running.triggered_at or message.triggered_at,
                "deadline_at": running.deadline_at or message.deadline_at,
            }
        )

    def _open_record(self, update_id: str) -> StoredUpdate | None:
        stored = self.updates.get(update_id)
        if stored is None or stored.record.status.is_terminal:
            return None
        return stored

    def _succeed(self, message: LookMessage, done: Done, now: datetime) -> None:
        stored = self._open_record(message.update_id)
        if stored is None:
            return  # finished meanwhile (a duplicate chain, or the workflow gave up): nothing left to do
        record = stored.record
        if record.status is UpdateStatus.AUTHENTICATION_REQUIRED:
            record = lifecycle.accepted(record, now, self.settings.timing).record
        accounts = self.gateway.read_accounts(
            message.owner_id, done.account_ids, interface=message.interface, known_ids=record.known_account_ids
        )
        result = UpdateResult(
            accounts=accounts,
            categorization_status=done.categorization_status,
            finished_at=now,
            bank_result=done.bank_result,
            consent_expires_at=done.consent_expires_at,
        )
        # Issue 23 (decision D27): what the update brought per account, and the change log moved on. The one call a
        # successful update's look makes for it; whatever replaces this look carries it over.
        result = self.what_changed.summarise(record, result, now)
        transition = lifecycle.succeeded(record, result, now, looks=message.looks)
        self.progress.apply(stored, transition, from_api=False)

    def _keep_workflow_waiting(self, message: LookMessage, now: datetime, gap_seconds: float) -> LookMessage | None:
        """The workflow gives up on an update it hears nothing from: send a sign of life before it would."""
        silent_for = (now - message.alive_at).total_seconds() + gap_seconds
        if silent_for < self.settings.heartbeat_seconds / 2:
            return message
        stored = self._open_record(message.update_id)
        if stored is None:
            return None
        if stored.task_token is not None and not self.workflow.keep_alive(stored.task_token):
            logger.warning("the update's workflow is over; this look chain stops")
            return None
        return message.model_copy(update={"alive_at": now})
