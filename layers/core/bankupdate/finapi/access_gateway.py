"""``BankGateway`` through finAPI Access: ``POST /bankConnections/update`` with multi-step authentication, and polls
at ``GET /bankConnections/{id}`` (for mandators with their own licence that do not use finAPI's web form)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from bankupdate.domain.errors import NotFound, UpstreamNotFound, UserNotRegistered
from bankupdate.domain.model import AccountOutcome, ChallengeStatus
from bankupdate.domain.polling import PollVerdict, decide_poll
from bankupdate.domain.upstream import (
    Accepted,
    AnswerRequest,
    ConnectionFacts,
    Done,
    Failed,
    PollOutcome,
    PollTarget,
    StartOutcome,
    StartRequest,
    StillRunning,
    UserNeeded,
)
from bankupdate.domain.urls import LinkPolicy
from bankupdate.finapi.client import FinapiClient
from bankupdate.finapi.mapping import (
    account_outcome,
    challenge_from,
    credential_labels,
    msa_callback,
    psu_metadata,
    snapshot_from,
    update_params,
)
from bankupdate.finapi.models import AuthenticationRequired, BankConnection, FinapiUserCredentials


@dataclass(frozen=True)
class OwnerPrincipal:
    """One of our users as a finAPI user: tokens are cached under our user's id, so the stored password is read
    (and decrypted) only when no token of theirs is cached."""

    owner_id: str
    load: Callable[[str], FinapiUserCredentials | None]

    @property
    def cache_key(self) -> str:
        return self.owner_id

    def credentials(self) -> FinapiUserCredentials:
        found = self.load(self.owner_id)
        if found is None:
            raise UserNotRegistered(f"no finAPI user is registered for {self.owner_id}")
        return found


class AccessGateway:
    def __init__(self, client: FinapiClient, load_user: Callable[[str], FinapiUserCredentials | None]) -> None:
        self.client = client
        self._load_user = load_user
        self.links = LinkPolicy.for_upstream(client.base_url)  # which of finAPI's URLs reach the user as links

    def principal(self, owner_id: str) -> OwnerPrincipal:
        return OwnerPrincipal(owner_id, self._load_user)

    def connection(self, owner_id: str, connection_id: int) -> BankConnection:
        try:
            return self.client.get_bank_connection(self.principal(owner_id), connection_id)
        except UpstreamNotFound:
            raise NotFound(f"bank connection {connection_id} is not known for this user") from None

    def connection_facts(self, owner_id: str, connection_id: int) -> ConnectionFacts:
        return facts_of(self.connection(owner_id, connection_id))

    def list_connections(self, owner_id: str) -> list[ConnectionFacts]:
        return [facts_of(c) for c in self.client.list_bank_connections(self.principal(owner_id))]

    def start(self, owner_id: str, request: StartRequest) -> StartOutcome:
        params = update_params(request.connection_id, request.options, credentials=request.credentials)
        answer = self.client.update_bank_connection(
            self.principal(owner_id), params, psu=psu_metadata(request.psu), request_id=request.request_id
        )
        if isinstance(answer, AuthenticationRequired):
            return UserNeeded(
                challenge_from(answer.challenge, answer.message, self.links), answer.psu_ip_address_refused
            )
        return Accepted(counted_as_unattended=answer.psu_ip_address_refused)

    def answer(self, owner_id: str, request: AnswerRequest) -> StartOutcome:
        challenge, answer = request.challenge, request.answer
        asked_for_credentials = challenge.status is ChallengeStatus.CREDENTIALS_REQUIRED
        params = update_params(
            request.connection_id,
            request.options,
            credentials=answer.login_credentials or (),
            store_secrets=answer.store_secrets,
            msa=None if asked_for_credentials else msa_callback(challenge, answer),
        )
        outcome = self.client.update_bank_connection(self.principal(owner_id), params, psu=psu_metadata(request.psu))
        if isinstance(outcome, AuthenticationRequired):
            return UserNeeded(
                challenge_from(outcome.challenge, outcome.message, self.links), outcome.psu_ip_address_refused
            )
        return Accepted(counted_as_unattended=outcome.psu_ip_address_refused)

    def poll(self, owner_id: str, target: PollTarget, now: datetime) -> PollOutcome:
        connection = self.client.get_bank_connection(self.principal(owner_id), target.connection_id)
        return judge(connection, target, now)

    def read_accounts(
        self, owner_id: str, account_ids: Sequence[int], *, interface: str | None, known_ids: Sequence[int]
    ) -> tuple[AccountOutcome, ...]:
        principal = self.principal(owner_id)
        return tuple(
            account_outcome(self.client.get_account(principal, account_id), interface, known_ids)
            for account_id in account_ids
        )


def judge(connection: BankConnection, target: PollTarget, now: datetime) -> PollOutcome:
    """The Access verdict on a connection after an update (finAPI reference section 2.3)."""
    snapshot = snapshot_from(connection)
    decision = decide_poll(
        snapshot,
        interface=target.interface,
        triggered_at=target.triggered_at,
        deadline_at=target.deadline_at,
        now=now,
        wait_for_categorization=target.wait_for_categorization,
        require_fresh_result=not target.start_confirmed,
    )
    if decision.verdict is PollVerdict.WAIT:
        if snapshot.update_status == "READY":
            return StillRunning(seen=f"READY, categorization {snapshot.categorization_status}")
        return StillRunning(seen=snapshot.update_status)
    if decision.verdict is PollVerdict.FAILED and decision.error is not None:
        return Failed(decision.error)
    chosen = snapshot.interface_named(target.interface)
    return Done(
        account_ids=tuple(connection.account_ids),
        categorization_status=snapshot.categorization_status,
        bank_result=decision.bank_result.result if decision.bank_result else None,
        consent_expires_at=chosen.consent_expires_at if chosen else None,
    )


# Credentials are asked for one interface; XS2A (PSD2) first, where a connection has it.
_PREFERRED_INTERFACES = ("XS2A", "FINTS_SERVER", "WEB_SCRAPER")


def facts_of(connection: BankConnection) -> ConnectionFacts:
    snapshot = snapshot_from(connection)
    names = [i.interface for i in snapshot.interfaces]
    interfaces = tuple(sorted(names, key=lambda n: _PREFERRED_INTERFACES.index(n) if n in _PREFERRED_INTERFACES else 9))
    consents = [i.consent_expires_at for i in snapshot.interfaces if i.consent_expires_at is not None]
    return ConnectionFacts(
        connection_id=connection.id,
        account_ids=tuple(connection.account_ids),
        consent_expires_at=min(consents) if consents else None,
        user_action_required=any(i.user_action_required for i in snapshot.interfaces),
        credential_labels=credential_labels(connection, interfaces[0] if interfaces else None),
        interfaces=interfaces,
        redirect_interfaces=redirect_interfaces(connection),
    )


def redirect_interfaces(connection: BankConnection) -> tuple[str, ...]:
    """From the bank's interfaces in the connection (finAPI: "redirectUrl must only be passed when the used
    interface has the property REDIRECT_APPROACH")."""
    found = []
    for interface in (connection.bank or {}).get("interfaces") or []:
        name = interface.get("interface") or interface.get("bankingInterface")
        if name and "REDIRECT_APPROACH" in (interface.get("properties") or []):
            found.append(str(name))
    return tuple(found)
