"""Recording what finAPI answered to a start or an answer, and carrying out the step the lifecycle names.

Used by the triggers, the answer route and the polls alike, so an update moves the same way whoever moved it. The
workflow learns of it through the task waiting on the update: a new round keeps it waiting (a heartbeat), a download
that starts ends a wait for the user (the workflow then polls), an end releases it.
"""

from __future__ import annotations

from dataclasses import dataclass

from bankupdate.contract import WaitingTask
from bankupdate.domain import lifecycle
from bankupdate.domain.events import AuthenticationRequested
from bankupdate.domain.lifecycle import Next, Transition
from bankupdate.domain.model import UpdateRecord
from bankupdate.domain.upstream import Accepted, StartOutcome, UserNeeded
from bankupdate.ports import Clock, EventBus, ScheduleStore, StoredUpdate, UpdateStore, Workflow
from bankupdate.services.finalizer import Finalizer
from bankupdate.settings import Settings

# The tasks a download that starts (or restarts after the user) ends: they wait for the user or for finAPI.
_RESUMABLE = frozenset({WaitingTask.USER, WaitingTask.CALLBACK})


@dataclass
class Progress:
    updates: UpdateStore
    events: EventBus
    workflow: Workflow
    finalizer: Finalizer
    clock: Clock
    settings: Settings
    schedules: ScheduleStore

    def transition_for(self, record: UpdateRecord, outcome: StartOutcome, *, confirmed: bool = True) -> Transition:
        now = self.clock.now()
        if outcome.counted_as_unattended and not record.counted_as_unattended:
            record = record.model_copy(update={"counted_as_unattended": True})
        if isinstance(outcome, UserNeeded):
            return lifecycle.needs_user(record, outcome.challenge, now, self.settings.timing)
        assert isinstance(outcome, Accepted)
        return lifecycle.accepted(
            record, now, self.settings.timing, confirmed=confirmed, upstream_ref=outcome.upstream_ref
        )

    def apply(self, stored: StoredUpdate, transition: Transition) -> StoredUpdate:
        """Save the transition's record, then carry out its step with the task the save found waiting."""
        saved = self.updates.save(transition.record, expected_version=stored.record.version)
        if saved.record.counted_as_unattended and not stored.record.counted_as_unattended:
            # The bank counts this access against the connection's day: so does the scheduler's budget.
            self.schedules.consume_unattended(
                saved.record.owner_id, saved.record.connection_id, budget=self.settings.budget, now=self.clock.now()
            )
        step = transition.step
        if step.next is Next.AWAIT_USER:
            self._user_asked(saved.record)
        elif step.next is Next.FINISH:
            return StoredUpdate(self.finalizer.finish(saved))
        elif step.next is Next.POLL and saved.task_token is not None and saved.task_kind in _RESUMABLE:
            self.workflow.resume(saved.task_token, saved.record.update_id)
        return saved

    def _user_asked(self, record: UpdateRecord) -> None:
        challenge = record.challenge
        assert challenge is not None
        self.events.publish(
            AuthenticationRequested(
                update_id=record.update_id,
                owner_id=record.owner_id,
                connection_id=record.connection_id,
                challenge_status=challenge.status.value,
                auth_round=record.auth_round,
                expires_at=record.auth_window_ends_at,
                action_url=challenge.web_form_url,
            )
        )
