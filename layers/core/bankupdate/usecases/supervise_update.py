"""SuperviseUpdate: the workflow's one task per update (``waitForTaskToken``). It parks the task's token on the
update, then drives the update from wherever its record stands: it starts a scheduled update (lock, the bank's daily
budget, finAPI without PSU data), looks at a running download, or leaves an update that waits for its user alone.
Whoever finishes the update releases the task; the task's heartbeat and timeout bound every wait (decision D19).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from bankupdate.contract import WorkflowOutput
from bankupdate.domain import lifecycle
from bankupdate.domain.errors import (
    BankUpdateError,
    UnattendedBudgetExhausted,
    UpdateAlreadyRunning,
    UpdateStalled,
    UpstreamUnavailable,
    UserActionRequired,
)
from bankupdate.domain.model import Integration, UpdateMode, UpdateRecord, UpdateStatus
from bankupdate.domain.upstream import Accepted, StartOutcome, StartRequest
from bankupdate.flow.callbacks import CallbackLinks
from bankupdate.flow.finish import Completion
from bankupdate.flow.locks import ConnectionLocks
from bankupdate.flow.looking import LookLoop
from bankupdate.flow.progress import Progress, look_message
from bankupdate.ports import BankGateway, Clock, Invocation, ScheduleStore, StoredUpdate, UpdateStore, Workflow
from bankupdate.settings import Settings


@dataclass
class SuperviseUpdate:
    updates: UpdateStore
    locks: ConnectionLocks
    schedules: ScheduleStore
    gateway: BankGateway
    workflow: Workflow
    progress: Progress
    looks: LookLoop
    completion: Completion
    clock: Clock
    settings: Settings
    # Where finAPI's Web Form 2.0 callbacks reach the API: a scheduled update gets them like a user-present one.
    callback_base_url: Callable[[], str] | None = None

    def __call__(self, update_id: str, task_token: str, invocation: Invocation) -> None:
        stored = self.updates.get(update_id)
        if stored is None:
            self.workflow.release(task_token, WorkflowOutput(update_id=update_id, status=None))
            return
        if stored.record.status.is_terminal or not self.updates.park_task_token(update_id, task_token):
            # Finished before the workflow got here (or meanwhile): release the task, repairing what is left.
            self.completion.finish(StoredUpdate(self._reread(update_id), task_token))
            return
        stored = StoredUpdate(stored.record, task_token)
        record = stored.record
        if record.error is not None or record.result is not None:
            self.completion.finish(stored)
        elif record.status is UpdateStatus.IN_PROGRESS:
            self._watch(record, invocation)
        elif record.status is UpdateStatus.PENDING:
            self._start(stored, invocation)
        # AUTHENTICATION_REQUIRED: the user's answer (or finAPI's web form) moves the update on.

    def _reread(self, update_id: str) -> UpdateRecord:
        stored = self.updates.get(update_id)
        assert stored is not None
        return stored.record

    def _start(self, stored: StoredUpdate, invocation: Invocation) -> None:
        record = stored.record
        if record.finapi_called_at is not None:
            # finAPI was called, but the answer was never recorded (the caller died): never call the
            # non-idempotent update twice; the looks find out what finAPI is doing.
            self._continue(stored, Accepted(), invocation, confirmed=False)
        elif record.mode is UpdateMode.UNATTENDED:
            self._start_unattended(stored, invocation)
        else:
            self.completion.fail(
                record.update_id, UpdateStalled("the update was never sent to finAPI").to_update_error()
            )

    def _start_unattended(self, stored: StoredUpdate, invocation: Invocation) -> None:
        record = stored.record
        lock = self.locks.take(record.owner_id, record.connection_id, record.update_id)
        if lock.refused is not None:
            running = UpdateAlreadyRunning(f"update {lock.holder} is running", details={"updateId": lock.holder})
            self.completion.fail(record.update_id, running.to_update_error())
            return
        now = self.clock.now()
        budget = self.settings.budget
        if not self.schedules.consume_unattended(record.owner_id, record.connection_id, budget=budget, now=now):
            spent = UnattendedBudgetExhausted(f"{budget.usable_per_day} unattended updates used today")
            self.completion.fail(record.update_id, spent.to_update_error())
            return
        calling = self.updates.save(
            lifecycle.calling_upstream(record, now, self.settings.timing), expected_version=record.version
        )
        stored = StoredUpdate(calling, stored.task_token)
        callbacks = None
        if self.callback_base_url is not None:
            links = CallbackLinks(self.updates, self.clock, self.settings, self.callback_base_url)
            callbacks = links.for_update(record)
        request = StartRequest(connection_id=record.connection_id, options=record.options, callbacks=callbacks)
        try:
            outcome = self.gateway.start(record.owner_id, request)
        except UpstreamUnavailable as error:
            if error.upstream_status is not None:
                self.completion.fail(record.update_id, error.to_update_error())
                return
            self._continue(stored, Accepted(), invocation, confirmed=False)
            return
        except BankUpdateError as error:
            self.completion.fail(record.update_id, _unattended(error).to_update_error())
            return
        self._continue(stored, outcome, invocation, confirmed=True)

    def _continue(
        self, stored: StoredUpdate, outcome: StartOutcome, invocation: Invocation, *, confirmed: bool
    ) -> None:
        transition = self.progress.transition_for(stored.record, outcome, confirmed=confirmed)
        saved = self.progress.apply(stored, transition, from_api=False)
        if saved.status is UpdateStatus.IN_PROGRESS and saved.error is None:
            self._watch(saved, invocation)

    def _watch(self, record: UpdateRecord, invocation: Invocation) -> None:
        """Start the looks at a running update. finAPI's Web Form 2.0 task calls back when it needs the user or ends,
        so there the first look is only the fallback for a lost callback and waits on the timer; an Access download
        is looked at right away."""
        message = look_message(record, alive_at=self.clock.now())
        if record.integration is Integration.WEB_FORM:
            self.looks.park(message)
        else:
            self.looks.run(message, invocation)


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
