"""TriggerUpdate (user present): lock the connection, call finAPI, start the workflow that supervises the update."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import NoReturn

from bankupdate.domain import lifecycle
from bankupdate.domain.answers import Credential
from bankupdate.domain.errors import (
    AwsThrottled,
    BankUpdateError,
    ConsentInvalid,
    CredentialsRequired,
    InvalidRequest,
    NotFound,
    TooManyUpdates,
    UpdateAlreadyRunning,
    UpstreamUnavailable,
)
from bankupdate.domain.model import (
    BankingInterface,
    Challenge,
    ChallengeStatus,
    ConnectionHealth,
    ConnectionRecord,
    Integration,
    UpdateOptions,
    UpdateRecord,
)
from bankupdate.domain.psu import PsuContext
from bankupdate.domain.trigger_rate import TriggerRate
from bankupdate.domain.upstream import Accepted, StartOutcome, StartRequest, UserNeeded
from bankupdate.observability import logger, metrics
from bankupdate.ports import (
    BankGateway,
    Clock,
    IdempotencyStore,
    IdempotentCall,
    LockAttempt,
    LockRefusal,
    StoredUpdate,
    UpdateStore,
    Workflow,
)
from bankupdate.services.callbacks import CALLBACK_TOKEN_BYTES, CallbackLinks, callback_digest
from bankupdate.services.finalizer import Finalizer
from bankupdate.services.locks import ConnectionLocks
from bankupdate.services.progress import Progress
from bankupdate.services.recovery import Recovery, workflow_input
from bankupdate.settings import Settings

__all__ = ["CALLBACK_TOKEN_BYTES", "TriggerRequest", "TriggerUpdate", "callback_digest"]


@dataclass(frozen=True)
class TriggerRequest:
    owner_id: str
    connection_id: int
    options: UpdateOptions
    credentials: tuple[Credential, ...]
    psu: PsuContext
    request_id: str | None
    idempotency_key: str | None = None


def _for_connection(options: UpdateOptions, connection: ConnectionRecord | None) -> UpdateOptions:
    """The app may always offer its redirectUrl; finAPI's update endpoint takes it only for interfaces that log in
    through the bank's website, and refuses it for the others."""
    known = connection.redirect_interfaces if connection else None
    if options.redirect_url is None or known is None:
        return options
    wanted = options.interface.value if options.interface else None
    usable = wanted in known if wanted else bool(known)
    return options if usable else options.model_copy(update={"redirect_url": None})


@dataclass
class TriggerUpdate:
    updates: UpdateStore
    locks: ConnectionLocks
    gateway: BankGateway
    workflow: Workflow
    progress: Progress
    finalizer: Finalizer
    recovery: Recovery
    idempotency: IdempotencyStore | None
    clock: Clock
    settings: Settings
    callback_base_url: Callable[[], str]

    def __call__(self, request: TriggerRequest) -> UpdateRecord:
        self._check_redirect(request.options)
        if request.idempotency_key is None or self.idempotency is None:
            return self._start(request)
        call = IdempotentCall(
            key={"owner": request.owner_id, "connection": request.connection_id, "key": request.idempotency_key},
            # What must match on a repeat: the options, and whether credentials came (never their values: a hash
            # of a PIN in the idempotency table could be brute-forced).
            fingerprint={
                "options": request.options.model_dump(mode="json"),
                "credentialLabels": sorted(c.label for c in request.credentials),
            },
        )
        answer = self.idempotency.run_once(call, lambda: {"updateId": self._start(request).update_id})
        stored = self.updates.get(str(answer["updateId"]))
        if stored is None:
            raise UpdateAlreadyRunning("the update of this Idempotency-Key is gone", details=answer)
        return stored.record

    def _check_redirect(self, options: UpdateOptions) -> None:
        url = options.redirect_url
        if url is None:
            return
        allowed = self.settings.redirect_allow_list
        if not allowed.allows(url):
            raise InvalidRequest(
                "redirectUrl is not one of the redirect URLs this deployment allows",
                details={"field": "redirectUrl", "allowed": list(allowed.entries)},
            )

    def _start(self, request: TriggerRequest) -> UpdateRecord:
        now = self.clock.now()
        update_id = uuid.uuid4().hex
        lock = self._lock(request, update_id)
        connection = lock.connection
        record = lifecycle.new_user_present(
            update_id=update_id,
            owner_id=request.owner_id,
            connection_id=request.connection_id,
            options=self._for_connection(request.options, connection),
            integration=self.settings.integration,
            known_account_ids=connection.health.known_account_ids if connection else (),
            execution_arn=self.workflow.execution_arn(update_id),
            now=now,
            timing=self.settings.timing,
        )
        try:
            self.updates.create(record)
        except Exception:
            # Nothing recorded, nothing started (AWS throttled the write): the lock must not outlive this request.
            self.locks.release_unused(request.owner_id, request.connection_id, update_id)
            raise
        logger.append_keys(update_id=update_id, connection_id=request.connection_id)
        stored = StoredUpdate(record)
        try:
            outcome: StartOutcome = self.gateway.start(request.owner_id, self._start_request(request, record))
        except (CredentialsRequired, ConsentInvalid) as error:
            if request.credentials:
                self._fail(update_id, error)
            # None sent and finAPI needs them (none stored, or the consent must be renewed): ask the user.
            challenge, interface = self._credentials_challenge(request, error)
            if record.options.interface is None and interface is not None:
                # finAPI takes credentials only together with the interface they are for.
                options = record.options.model_copy(update={"interface": BankingInterface(interface)})
                stored = StoredUpdate(record.model_copy(update={"options": options}))
            outcome = UserNeeded(challenge)
        except UpstreamUnavailable as error:
            if error.upstream_status is not None:
                self._fail(update_id, error)  # finAPI answered (5xx): it did not start anything
            # No answer at all: finAPI may be downloading. The polls find out; only a fresh result counts.
            return self._go(stored, Accepted(), confirmed=False)
        except BankUpdateError as error:
            self._fail(update_id, error)
        return self._go(stored, outcome, confirmed=True)

    def _for_connection(self, options: UpdateOptions, connection: ConnectionRecord | None) -> UpdateOptions:
        if self.settings.integration is Integration.WEB_FORM:
            return options  # the app's return address after finAPI's web form (api.views puts it on the form's URL)
        return _for_connection(options, connection)

    def _lock(self, request: TriggerRequest, update_id: str) -> LockAttempt:
        rate = TriggerRate(self.settings.user_updates_per_window, self.settings.user_update_window_seconds)
        owner, connection_id = request.owner_id, request.connection_id
        lock = self.locks.take(owner, connection_id, update_id, rate=rate)
        if lock.refused is LockRefusal.MISSING:
            # A connection we have not seen: it must be the caller's at finAPI before anything is recorded.
            facts = self.gateway.connection_facts(owner, connection_id)
            first = ConnectionRecord(
                owner_id=owner,
                connection_id=connection_id,
                created_at=self.clock.now(),
                redirect_interfaces=facts.redirect_interfaces,
                health=ConnectionHealth(
                    consent_expires_at=facts.consent_expires_at,
                    user_action_required=facts.user_action_required,
                    known_account_ids=facts.account_ids,
                ),
            )
            lock = self.locks.take(owner, connection_id, update_id, create=first, rate=rate)
        if lock.refused is LockRefusal.MISSING:
            raise NotFound(f"bank connection {connection_id} is not known for this user")
        if lock.refused is LockRefusal.RATE:
            log = lock.connection.user_triggers if lock.connection else ()
            wait = rate.retry_after_seconds(log, self.clock.now()) if len(log) >= rate.limit else 1
            raise TooManyUpdates(
                f"at most {rate.limit} updates of a connection per {rate.window_seconds} s",
                details={"retryAfterSeconds": wait},
            )
        if lock.refused is LockRefusal.HELD:
            recovered = self.recovery.recover_holder(owner, connection_id, lock.holder)
            raise UpdateAlreadyRunning(
                f"update {lock.holder} of connection {connection_id} is still running",
                details={"updateId": lock.holder, "recovered": recovered, "retryAfterSeconds": 5},
            )
        return lock

    def _start_request(self, request: TriggerRequest, record: UpdateRecord) -> StartRequest:
        links = CallbackLinks(self.updates, self.clock, self.settings, self.callback_base_url)
        callbacks = links.for_update(record)
        return StartRequest(
            connection_id=request.connection_id,
            options=record.options,
            credentials=request.credentials,
            psu=request.psu,
            request_id=request.request_id,
            callbacks=callbacks,
        )

    def _credentials_challenge(self, request: TriggerRequest, error: BankUpdateError) -> tuple[Challenge, str | None]:
        """The challenge, with the labels the bank wants, and the interface they are for."""
        labels: tuple[str, ...] = ()
        interface = request.options.interface.value if request.options.interface else None
        try:
            facts = self.gateway.connection_facts(request.owner_id, request.connection_id)
            labels, interface = facts.credential_labels, interface or next(iter(facts.interfaces), None)
        except BankUpdateError:
            logger.warning("could not read which credentials the bank wants")
        challenge = Challenge(
            status=ChallengeStatus.CREDENTIALS_REQUIRED, message=error.user_message, credential_labels=labels
        )
        return challenge, interface

    def _go(self, stored: StoredUpdate, outcome: StartOutcome, *, confirmed: bool) -> UpdateRecord:
        transition = self.progress.transition_for(stored.record, outcome, confirmed=confirmed)
        try:
            saved = self.progress.apply(stored, transition).record
        except Exception as error:
            self._abandon(stored.record.update_id, error)
        try:
            # One attempt (D35): a refusal means StartExecution's bucket is empty; retries within seconds rarely
            # find a token, and meanwhile they hold this environment and the user's answer.
            self.workflow.start(workflow_input(saved.update_id, self.settings), retry_throttles=False)
        except AwsThrottled:
            # finAPI has the update and its outcome is saved: only its supervision waits (decision D33). Failing it
            # would leave finAPI's download unwatched and the user's next press refused (423) until it ends.
            # ReconcileStaleUpdates starts the workflow of an open update that has none, as the user's next press
            # does (recover_holder), once the grace period shows no trigger is still at it.
            logger.warning("update workflow start deferred: Step Functions refused it for rate")
            metrics.add_metric(name="WorkflowStartsDeferred", unit="Count", value=1)
        except Exception as error:
            self._abandon(saved.update_id, error)
        return saved

    def _abandon(self, update_id: str, error: Exception) -> NoReturn:
        """The outcome could not be saved, or the workflow failed to start for a reason that may persist: finAPI may
        be downloading already, but nothing would end the update reliably. The caller learns why (AwsThrottled of
        the save: 503 with Retry-After) and the update ends with that error, its lock released."""
        logger.exception("could not hand the update to its workflow")
        failed = (
            error
            if isinstance(error, BankUpdateError)
            else BankUpdateError(f"workflow did not start: {type(error).__name__}")
        )
        self.finalizer.fail(update_id, failed.to_update_error())
        raise error

    def _fail(self, update_id: str, error: BankUpdateError) -> NoReturn:
        self.finalizer.fail(update_id, error.to_update_error())
        error.details.setdefault("updateId", update_id)
        raise error
