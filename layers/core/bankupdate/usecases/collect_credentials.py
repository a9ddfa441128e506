"""CollectCredentials: take the user's answer, pass it to finAPI with the latest hash, move the update on.

No waiting on ourselves: the answer needs the challenge (on the record), not the workflow. One conditional claim per
round makes sure a duplicate submission never reaches finAPI.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from bankupdate.contract import WaitingTask
from bankupdate.domain import lifecycle
from bankupdate.domain.answers import AuthenticationAnswer, check_answer_fits
from bankupdate.domain.errors import (
    AnswerTooEarly,
    AuthenticationExpired,
    BankUpdateError,
    ChallengeMismatch,
    CredentialsRequired,
    NotFound,
    UpdateLockedUpstream,
    UpstreamUnavailable,
)
from bankupdate.domain.lifecycle import Next
from bankupdate.domain.model import BankingInterface, ChallengeStatus, UpdateOptions, UpdateRecord, UpdateStatus
from bankupdate.domain.psu import PsuContext
from bankupdate.domain.upstream import Accepted, AnswerRequest, StartOutcome
from bankupdate.ports import BankGateway, Clock, StoredUpdate, UpdateStore, Workflow
from bankupdate.services.finalizer import Finalizer
from bankupdate.services.progress import Progress
from bankupdate.settings import Settings

# Errors after which the same answer may simply be sent again: finAPI did not (knowingly) consume the challenge.
_TRY_AGAIN = (UpstreamUnavailable, UpdateLockedUpstream)
CLAIM_LEASE = timedelta(seconds=60)


@dataclass
class CollectCredentials:
    updates: UpdateStore
    gateway: BankGateway
    workflow: Workflow
    progress: Progress
    finalizer: Finalizer
    clock: Clock
    settings: Settings

    def __call__(self, *, owner_id: str, update_id: str, answer: AuthenticationAnswer, psu: PsuContext) -> UpdateRecord:
        stored = self.updates.get(update_id)
        if stored is None or stored.record.owner_id != owner_id:
            raise NotFound(f"update {update_id} does not exist")
        record = stored.record
        self._check_pending(record)
        challenge = record.challenge
        assert challenge is not None  # _check_pending made sure
        check_answer_fits(challenge, answer)
        options = self._options_for(owner_id, record)
        if not self.updates.claim_round(
            update_id, auth_round=record.auth_round, now=self.clock.now(), lease=CLAIM_LEASE
        ):
            raise ChallengeMismatch(
                "this challenge has already been answered", details={"authRound": record.auth_round}
            )
        if stored.task_token is not None:
            self.workflow.keep_alive(stored.task_token)  # the answer is on its way: the workflow keeps waiting
        answering = StoredUpdate(lifecycle.answered(record, self.clock.now()), stored.task_token)
        request = AnswerRequest(
            connection_id=record.connection_id, options=options, challenge=challenge, answer=answer, psu=psu
        )
        try:
            outcome: StartOutcome = self.gateway.answer(owner_id, request)
        except _TRY_AGAIN as error:
            if isinstance(error, UpstreamUnavailable) and error.upstream_status is None:
                # No answer at all: finAPI may have taken the answer and started. The polls find out.
                return self._go(stored, answering.record, Accepted(), confirmed=False)
            self.updates.release_round(update_id, auth_round=record.auth_round)
            raise
        except CredentialsRequired:
            if challenge.status is ChallengeStatus.CREDENTIALS_REQUIRED:
                self.updates.release_round(update_id, auth_round=record.auth_round)
            raise
        except BankUpdateError as error:
            self.finalizer.fail(update_id, error.to_update_error())
            error.details.setdefault("updateId", update_id)
            raise
        return self._go(stored, answering.record, outcome, confirmed=True)

    def _go(
        self, stored: StoredUpdate, answered: UpdateRecord, outcome: StartOutcome, *, confirmed: bool
    ) -> UpdateRecord:
        transition = self.progress.transition_for(answered, outcome, confirmed=confirmed)
        saved = self.progress.apply(stored, transition)
        if transition.step.next is Next.AWAIT_USER and saved.task_token and saved.task_kind is WaitingTask.USER:
            # The user gets a whole window for this round: the workflow's patience starts again now.
            self.workflow.keep_alive(saved.task_token)
        return saved.record

    def _options_for(self, owner_id: str, record: UpdateRecord) -> UpdateOptions:
        """finAPI takes credentials only with the interface they are for; an update started without one (and whose
        trigger could not find out) learns it now."""
        options = record.options
        if record.challenge is None or record.challenge.status is not ChallengeStatus.CREDENTIALS_REQUIRED:
            return options
        if options.interface is not None:
            return options
        interfaces = self.gateway.connection_facts(owner_id, record.connection_id).interfaces
        return options.model_copy(update={"interface": BankingInterface(interfaces[0])}) if interfaces else options

    def _check_pending(self, record: UpdateRecord) -> None:
        now = self.clock.now()
        if record.status is UpdateStatus.EXPIRED or lifecycle.window_closed(record, now):
            raise AuthenticationExpired(f"the authentication window of update {record.update_id} has closed")
        if record.status is not UpdateStatus.AUTHENTICATION_REQUIRED or record.challenge is None:
            raise ChallengeMismatch(
                f"update {record.update_id} is {record.status.value}: no authentication is pending",
                details={"status": record.status.value},
            )
        if record.challenge.status is ChallengeStatus.DECOUPLED_AUTH_IN_PROGRESS and record.last_answer_at is not None:
            ready_at = record.last_answer_at + timedelta(seconds=self.settings.decoupled_min_interval_seconds)
            if now < ready_at:
                wait = max(1, int((ready_at - now).total_seconds() + 0.999))
                raise AnswerTooEarly(f"ask again in {wait} s", details={"retryAfterSeconds": wait})
