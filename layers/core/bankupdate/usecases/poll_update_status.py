"""PollUpdateStatus: one poll at finAPI per invocation, as a state of the Express poll loop (decision D26).

The loop's state carries what a poll needs (``PollTarget``), so a poll reads nothing from DynamoDB while the download
runs: the record is read when a loop starts (the same write claims the update's polls for this loop and parks the
Poll task's token) and when something changes. Each poll chooses the gap to the next (``domain.backoff``) and where
it is waited: in this loop (POLL), in a fresh loop (CONTINUE), or, handed back to the Standard workflow, in a Wait
state or on a task token that finAPI's callback ends. Whoever sees the end finishes the update and ends the Poll task.
"""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from bankupdate.contract import (
    POLL_HISTORY_LIMIT,
    HandBack,
    HandBackDetail,
    PollEntry,
    PollLoopState,
    PollNext,
    PollRequest,
    WorkflowOutput,
)
from bankupdate.domain import lifecycle
from bankupdate.domain.backoff import MIN_GAP_SECONDS, NextStep, plan_next_poll
from bankupdate.domain.errors import (
    AuthenticationExpired,
    BankUpdateError,
    UpdateLockedUpstream,
    UpdateStalled,
    UpdateTimedOut,
    UpstreamUnavailable,
)
from bankupdate.domain.model import Integration, UpdateRecord, UpdateResult, UpdateStatus
from bankupdate.domain.upstream import Done, Failed, PollOutcome, PollTarget, StillRunning, UserNeeded
from bankupdate.observability import logger
from bankupdate.ports import BankGateway, Clock, StoredUpdate, UpdateStore, Workflow
from bankupdate.services.finalizer import Finalizer
from bankupdate.services.progress import Progress
from bankupdate.services.what_changed import WhatChanged
from bankupdate.settings import Settings

_TRANSIENT = (UpstreamUnavailable, UpdateLockedUpstream)
_HAND_BACK = {NextStep.WAIT_LONGER: HandBack.WAIT_LONGER, NextStep.AWAIT_CALLBACK: HandBack.AWAIT_CALLBACK}


@dataclass
class PollUpdateStatus:
    updates: UpdateStore
    gateway: BankGateway
    workflow: Workflow
    progress: Progress
    finalizer: Finalizer
    what_changed: WhatChanged
    clock: Clock
    settings: Settings

    def __call__(self, request: PollRequest) -> PollLoopState:
        state = request.loop
        if state.execution != request.execution or state.target is None:
            loaded = self._start_loop(request)
            if loaded is None:
                return state.model_copy(update={"next": PollNext.DONE, "execution": request.execution})
            state = loaded
        assert state.target is not None
        started = self.clock.monotonic()
        now = self.clock.now()
        outcome = self._poll(state.target, now)
        state = state.model_copy(update={"polls": state.polls + 1})
        return self._follow(state, outcome, now, request.execution_started_at, started)

    # ------------------------------------------------------------------------------------------ a loop starts

    def _start_loop(self, request: PollRequest) -> PollLoopState | None:
        """Claim the update's polls for this loop and read where the update stands; None when this loop has
        nothing to do (another loop has the polls, or the update's next step is outside the loop)."""
        state = request.loop
        # One id per loop execution: a retried first poll (its first attempt claimed, then failed) claims again.
        loop_id = uuid.uuid5(uuid.NAMESPACE_URL, request.execution).hex
        claimed = self.updates.claim_polls(
            state.update_id,
            loop_id=loop_id,
            previous_loop_id=state.loop_id,
            token=state.parent_token,
            task_entered_at=state.poll_task_entered_at,
        )
        if claimed is None:
            if self.updates.get(state.update_id) is None:  # gone (its record expired): nothing will ever finish it
                self.workflow.release(state.parent_token, WorkflowOutput(update_id=state.update_id, status=None))
            else:
                logger.info("another poll loop has this update's polls; this one ends")
            return None
        fresh_task = state.loop_id is None
        state = state.model_copy(
            update={
                "execution": request.execution,
                "loop_id": loop_id,
                "alive_at": request.execution_started_at if fresh_task else state.alive_at,
            }
        )
        record, now = claimed.record, self.clock.now()
        if record.status.is_terminal or record.error is not None or record.result is not None:
            # Ended meanwhile (or by an earlier attempt of this poll whose hand-off was throttled): end the task too.
            self.finalizer.finish(StoredUpdate(record, claimed.task_token or state.parent_token), state.history)
            return None
        if record.status is UpdateStatus.PENDING:
            if record.finapi_called_at is None:
                never = UpdateStalled("the update was never sent to finAPI").to_update_error()
                self.finalizer.fail(record.update_id, never, state.history)
                return None
            # finAPI was called, but its answer was never recorded (the caller died): never call the update twice;
            # the polls find out what finAPI is doing, and only a result written after the trigger counts.
            transition = lifecycle.accepted(record, now, self.settings.timing, confirmed=False)
            record = self.progress.apply(claimed, transition).record
        if record.status is UpdateStatus.AUTHENTICATION_REQUIRED:
            in_web_form = record.integration is Integration.WEB_FORM and record.upstream_ref is not None
            if in_web_form:
                # finAPI's web form: whether the user (or the download they started there) is done is finAPI's word,
                # and its form's expiry is finAPI's to enforce; the poll asks. The whole update stays bounded.
                bound = record.created_at + timedelta(seconds=self.settings.update_timeout_seconds)
                if now >= bound:
                    late = UpdateTimedOut("the update did not finish within its time limit")
                    self.finalizer.fail(record.update_id, late.to_update_error(), state.history)
                    return None
                return state.model_copy(update={"target": PollTarget.of(record)})
            if lifecycle.window_closed(record, now):
                expired = AuthenticationExpired("the user did not answer the bank's challenge in time")
                self.finalizer.fail(record.update_id, expired.to_update_error(), state.history)
                return None
            # The user's answer comes through our API: the workflow waits for it on a task token.
            self._hand_back(state, HandBack.USER_NEEDED, 0)
            return None
        return state.model_copy(update={"target": PollTarget.of(record)})

    # ------------------------------------------------------------------------------------------ one poll

    def _poll(self, target: PollTarget, now: datetime) -> PollOutcome:
        try:
            return self.gateway.poll(target.owner_id, target, now)
        except _TRANSIENT as error:
            if now >= target.deadline_at and not target.waiting_for_user:
                return Failed(UpdateTimedOut(f"finAPI could not be asked before the deadline: {error.message}"))
            logger.warning("poll failed, polling again later", extra={"error_code": error.code})
            return StillRunning(seen=f"unreachable ({error.code})")
        except BankUpdateError as error:
            return Failed(error)

    def _follow(
        self, state: PollLoopState, outcome: PollOutcome, now: datetime, loop_started_at: datetime, started: float
    ) -> PollLoopState:
        assert state.target is not None
        if isinstance(outcome, Failed):
            history = _with(state, PollEntry(at=now, saw=outcome.error.code))
            self.finalizer.fail(state.update_id, outcome.error.to_update_error(), history, state.parent_token)
            return _done(state, history)
        if isinstance(outcome, Done):
            history = _with(state, PollEntry(at=now, saw="READY"))
            self._succeed(state, outcome, now, history)
            return _done(state, history)
        if isinstance(outcome, UserNeeded):
            history = _with(state, PollEntry(at=now, saw=outcome.challenge.status.value))
            if not state.target.waiting_for_user and not self._show(state.update_id, outcome, now):
                return _done(state, history)  # an unattended update cannot wait for its user: it ended
            self._hand_back(state.model_copy(update={"history": history}), HandBack.USER_NEEDED, 0)
            return _done(state, history)
        assert isinstance(outcome, StillRunning)
        target = state.target
        if target.waiting_for_user:
            # Web Form 2.0: the user completed the form; the background update goes on, its deadline from now.
            moved = self._user_done(state.update_id, now)
            if moved is None:
                return _done(state, state.history)
            target = PollTarget.of(moved)
            state = state.model_copy(update={"target": target})
        plan = plan_next_poll(
            self.settings.poll_schedule,
            elapsed_seconds=(now - target.triggered_at).total_seconds(),
            until_deadline_seconds=(target.deadline_at - now).total_seconds(),
            since_poll_seconds=self.clock.monotonic() - started,
            loop_age_seconds=(self.clock.now() - loop_started_at).total_seconds(),
            limits=self.settings.loop_limits,
            break_even_gap_seconds=self.settings.hand_over_gap_seconds,
            callbacks=self.settings.callback_fallback_schedule is not None,
        )
        wait = plan.wait_seconds
        if plan.step is NextStep.AWAIT_CALLBACK:
            # finAPI's callback ends the wait; the fallback (for a lost one) may be longer, but never past the deadline
            fallback = self.settings.callback_fallback_schedule
            assert fallback is not None
            longest = max(MIN_GAP_SECONDS, math.ceil((target.deadline_at - now).total_seconds()))
            wait = min(max(wait, round(fallback.gap_after((now - target.triggered_at).total_seconds()))), longest)
        history = _with(state, PollEntry(at=now, saw=outcome.seen, wait_seconds=wait))
        state = state.model_copy(update={"history": history})
        if plan.step in _HAND_BACK:
            self._hand_back(state, _HAND_BACK[plan.step], wait)
            return _done(state, history)
        alive = self._keep_task_waiting(state, now, wait)
        if alive is None:
            return _done(state, history)
        next_step = PollNext.CONTINUE if plan.step is NextStep.CONTINUE else PollNext.POLL
        return alive.model_copy(update={"next": next_step, "gap_seconds": wait})

    # ------------------------------------------------------------------------------------------ what follows

    def _succeed(self, state: PollLoopState, done: Done, now: datetime, history: tuple[PollEntry, ...]) -> None:
        assert state.target is not None
        stored = self.updates.get(state.update_id)
        if stored is None:
            return
        record = stored.record
        if record.status.is_terminal:
            # Finished meanwhile, or by an earlier attempt of this poll whose hand-off was throttled (the record's
            # task token went with the finish): make sure the task ends.
            self.finalizer.finish(StoredUpdate(record, stored.task_token or state.parent_token), history)
            return
        if record.status is UpdateStatus.AUTHENTICATION_REQUIRED:
            record = lifecycle.accepted(record, now, self.settings.timing).record
        accounts = self.gateway.read_accounts(
            state.target.owner_id,
            done.account_ids,
            interface=state.target.interface,
            known_ids=record.known_account_ids,
        )
        result = UpdateResult(
            accounts=accounts,
            categorization_status=done.categorization_status,
            finished_at=now,
            bank_result=done.bank_result,
            consent_expires_at=done.consent_expires_at,
        )
        result = self.what_changed.summarise(record, result, now)  # what it brought (decision D29)
        finished = lifecycle.succeeded(record, result, now, polls=state.polls).record
        saved = self.updates.save(finished, expected_version=stored.record.version)
        self.finalizer.finish(saved, history)

    def _show(self, update_id: str, outcome: UserNeeded, now: datetime) -> bool:
        """Show the user what the bank (finAPI's web form) asks; False when the update ended instead."""
        stored = self.updates.get(update_id)
        if stored is None or stored.record.status.is_terminal:
            return False
        transition = lifecycle.needs_user(stored.record, outcome.challenge, now, self.settings.timing)
        return not self.progress.apply(stored, transition).record.status.is_terminal

    def _user_done(self, update_id: str, now: datetime) -> UpdateRecord | None:
        stored = self.updates.get(update_id)
        if stored is None or stored.record.status.is_terminal:
            return None
        if stored.record.status is UpdateStatus.AUTHENTICATION_REQUIRED:
            return self.progress.apply(stored, lifecycle.accepted(stored.record, now, self.settings.timing)).record
        return stored.record

    def _hand_back(self, state: PollLoopState, reason: HandBack, wait_seconds: int) -> None:
        detail = HandBackDetail(update_id=state.update_id, wait_seconds=wait_seconds, polls=state.history)
        if not self.workflow.hand_back(state.parent_token, reason, detail):
            logger.warning("the Poll task was over already", extra={"hand_back": reason.value})

    def _keep_task_waiting(self, state: PollLoopState, now: datetime, wait_seconds: int) -> PollLoopState | None:
        """The Poll task gives up on a loop it hears nothing from: a sign of life before it would, and no sooner than
        the next poll might come too late for one (each is a SendTaskHeartbeat of a shared quota: D36)."""
        alive_at = state.alive_at or now
        if (now - alive_at).total_seconds() + wait_seconds < self.settings.poll_sign_of_life_seconds:
            return state
        if not self.workflow.keep_alive(state.parent_token):
            logger.warning("the Poll task is over; this poll loop ends")
            return None
        return state.model_copy(update={"alive_at": now})


def _with(state: PollLoopState, entry: PollEntry) -> tuple[PollEntry, ...]:
    history = (*state.history, entry)
    if len(history) > POLL_HISTORY_LIMIT:
        history = (history[0], *history[-(POLL_HISTORY_LIMIT - 1) :])
    return history


def _done(state: PollLoopState, history: tuple[PollEntry, ...]) -> PollLoopState:
    return state.model_copy(update={"next": PollNext.DONE, "history": history})
