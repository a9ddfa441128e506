"""What the application asks of finAPI and what it gets back, independent of how the deployment reaches finAPI
(the Access update endpoint or Web Form 2.0 background updates: see ``ports.BankGateway``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from bankupdate.domain.answers import AuthenticationAnswer, Credential
from bankupdate.domain.errors import BankUpdateError
from bankupdate.domain.model import Challenge, Integration, UpdateOptions, UpdateRecord
from bankupdate.domain.psu import PsuContext


@dataclass(frozen=True)
class CallbackUrls:
    """Web Form 2.0 only: where finAPI reports that the task finished or needs the web form."""

    finalised: str
    web_form_required: str


@dataclass(frozen=True)
class StartRequest:
    connection_id: int
    options: UpdateOptions
    credentials: tuple[Credential, ...] = ()
    psu: PsuContext | None = None  # None: unattended (counts against the bank's daily budget)
    request_id: str | None = None
    callbacks: CallbackUrls | None = None


@dataclass(frozen=True)
class AnswerRequest:
    connection_id: int
    options: UpdateOptions
    challenge: Challenge
    answer: AuthenticationAnswer
    psu: PsuContext | None


@dataclass(frozen=True)
class Accepted:
    """finAPI started the download (``upstream_ref``: the Web Form 2.0 task that runs it).

    ``counted_as_unattended``: the user was present, but their IP address did not reach the bank (finAPI refused it,
    or none was known), so the bank takes the access as unattended: against the connection's daily budget."""

    upstream_ref: str | None = None
    counted_as_unattended: bool = False


@dataclass(frozen=True)
class UserNeeded:
    challenge: Challenge
    counted_as_unattended: bool = False  # as Accepted's


StartOutcome = Accepted | UserNeeded


class PollTarget(BaseModel):
    """What a poll needs to judge the update's progress: read from the update's record once per poll loop and
    carried in the loop's state, so the polls in between read nothing from DynamoDB."""

    model_config = ConfigDict(
        frozen=True, extra="forbid", alias_generator=to_camel, populate_by_name=True, serialize_by_alias=True
    )

    owner_id: str = Field(min_length=1, max_length=128)
    connection_id: int = Field(gt=0)
    integration: Integration = Integration.ACCESS
    interface: str | None = None
    upstream_ref: str | None = None  # Web Form 2.0: the background update task
    triggered_at: datetime
    deadline_at: datetime
    wait_for_categorization: bool = False
    start_confirmed: bool = True
    waiting_for_user: bool = False  # Web Form 2.0: the task waits in its web form

    @classmethod
    def of(cls, record: UpdateRecord) -> PollTarget:
        triggered = record.triggered_at or record.created_at
        return cls(
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
        )


@dataclass(frozen=True)
class StillRunning:
    seen: str = "IN_PROGRESS"  # what finAPI reported (its updateStatus, or the Web Form task's status)


@dataclass(frozen=True)
class Done:
    """finAPI finished the download successfully; the accounts are read next (``BankGateway.read_accounts``)."""

    account_ids: tuple[int, ...]
    categorization_status: str | None = None
    bank_result: str | None = None
    consent_expires_at: datetime | None = None


@dataclass(frozen=True)
class Failed:
    error: BankUpdateError


PollOutcome = StillRunning | UserNeeded | Done | Failed


@dataclass(frozen=True)
class ConnectionFacts:
    """What finAPI says about a connection (admin sync, first update of a connection)."""

    connection_id: int
    account_ids: tuple[int, ...]
    consent_expires_at: datetime | None
    user_action_required: bool
    credential_labels: tuple[str, ...] = ()  # the login fields of ``interfaces[0]``
    interfaces: tuple[str, ...] = ()  # the connection's banking interfaces, the one to ask credentials for first
    redirect_interfaces: tuple[str, ...] = ()  # those that log in through the bank's website (REDIRECT_APPROACH)
