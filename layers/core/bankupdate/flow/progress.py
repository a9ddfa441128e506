"""Recording what finAPI answered to a start or an answer, and carrying out the step the lifecycle names.

Used by the trigger, the answer route and the supervising workflow task alike, so an update moves the same way
whoever moved it. A LOOK step is handed back to the caller: a worker looks right away, an API route (which must not
keep the user waiting) puts the first look on the look timer.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from bankupdate.contract import LookMessage
from bankupdate.domain import lifecycle
from bankupdate.domain.events import AuthenticationRequested
from bankupdate.domain.lifecycle import Next, Transition
from bankupdate.domain.model import UpdateRecord
from bankupdate.domain.upstream import Accepted, StartOutcome, UserNeeded
from bankupdate.flow.finish import Completion
from bankupdate.ports import Clock, EventBus, LookTimer, ScheduleStore, StoredUpdate, UpdateStore, Workflow
from bankupdate.settings import Settings


def look_message(record: UpdateRecord, *, alive_at: datetime | None = None, chain: bool = True) -> LookMessage:
    """The first look of a download (or a one-off look), from the record."""
    triggered = record.triggered_at or record.created_at
    return LookMessage(
        update_id=record.update_id,
        owner_id=record.owner_id,
        connection_id=record.connection_id,
        integration=record.integration,
        interface=record.options.interface.value if record.options.interface else None,
        upstream_ref=record.upstream_ref,
        triggered_at=triggered,
        deadline_at=record.deadline_at or triggered,
        wait_for_categorization=record.options.wait_for_categorization,
        start_confirmed=record.start_confirmed,
        waiting_for_user=record.challenge is not None,
        looks=0,
        alive_at=alive_at or record.updated_at,
        chain=chain,
    )


@dataclass
class Progress:
    updates: UpdateStore
    events: EventBus
    workflow: Workflow
    timer: LookTimer
    completion: Completion
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

    def apply(self, stored: StoredUpdate, transition: Transition, *, from_api: bool) -> UpdateRecord:
        """Save the transition's record, then carry out its step (a LOOK from an API route goes on the timer)."""
        saved = self.updates.save(transition.record, expected_version=stored.record.version)
        if saved.counted_as_unattended and not stored.record.counted_as_unattended:
            # The bank counts this access against the connection's day: so does the scheduler's budget.
            self.schedules.consume_unattended(
                saved.owner_id, saved.connection_id, budget=self.settings.budget, now=self.clock.now()
            )
        step = transition.step
        if step.next is Next.AWAIT_USER:
            self._user_asked(saved, stored.task_token)
        elif step.next is Next.FINISH:
            saved = self.completion.finish(StoredUpdate(saved, stored.task_token))
        elif step.next is Next.LOOK and from_api:
            self.timer.schedule(look_message(saved, alive_at=self.clock.now()), 0)
        return saved

    def _user_asked(self, record: UpdateRecord, task_token: str | None) -> None:
        challenge = record.challenge
        assert challenge is not None
        if task_token is not None:
            # The user gets a whole window for this round: the workflow's patience starts again now.
            self.workflow.keep_alive(task_token)
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
