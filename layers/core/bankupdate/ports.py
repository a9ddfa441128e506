"""The ports the use cases work through. Adapters implement them (``stores/`` with boto3, ``finapi/`` with httpx);
tests implement them in memory (``tests/fakes``), and one contract suite holds both to the same behaviour."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Any, Protocol

from pydantic import BaseModel, SecretStr

from bankupdate.contract import HandBack, HandBackDetail, WaitingTask, WorkflowInput, WorkflowOutput
from bankupdate.domain.budget import UnattendedBudget
from bankupdate.domain.events import OutcomeEvent
from bankupdate.domain.model import (
    AccountOutcome,
    ConnectionHealth,
    ConnectionRecord,
    SkipReason,
    UpdateRecord,
    UpdateStatus,
)
from bankupdate.domain.sync_cursor import CursorKey
from bankupdate.domain.transactions import BankTransaction, ChangeEntry, ConnectionAccounts, ScanState
from bankupdate.domain.trigger_rate import TriggerRate
from bankupdate.domain.upstream import (
    AnswerRequest,
    ConnectionFacts,
    PollOutcome,
    PollTarget,
    StartOutcome,
    StartRequest,
)

# --------------------------------------------------------------------------------------------- values


class StaleUpdate(Exception):
    """The record changed since it was read (optimistic concurrency)."""


class StaleChanges(Exception):
    """A connection's change log moved on since its state was read (another look wrote first)."""


@dataclass(frozen=True)
class StoredUpdate:
    record: UpdateRecord
    task_token: str | None = None  # the token of the workflow task that waits on the update, once it is parked
    task_kind: WaitingTask | None = None  # which task that is


@dataclass(frozen=True)
class FinapiUserRecord:
    owner_id: str
    username: str
    password: SecretStr


class LockRefusal(StrEnum):
    HELD = "HELD"  # another update holds the lock
    RATE = "RATE"  # the connection was updated by its user too often just now
    MISSING = "MISSING"  # no such connection is recorded (and none was to be created)


@dataclass(frozen=True)
class LockAttempt:
    """One try for a connection's lock, and the connection as that same write saw it."""

    refused: LockRefusal | None  # None: the lock is ours
    holder: str | None  # the update holding the lock when refused as HELD
    connection: ConnectionRecord | None  # after the write when taken, as found when refused


@dataclass(frozen=True)
class ConnectionOutcome:
    """What finishing an update writes onto its connection, in the same write that releases the lock."""

    health: ConnectionHealth
    next_due_at: datetime | None = None
    reschedule: bool = False  # False: leave the schedule as it is
    skip: SkipReason | None = None


class ExecutionState(StrEnum):
    RUNNING = "RUNNING"
    ENDED = "ENDED"
    MISSING = "MISSING"


@dataclass(frozen=True)
class Invocation:
    """What the Lambda runtime grants the current invocation (its remaining time and memory size)."""

    seconds_left: float
    memory_mb: int


@dataclass
class Clock:
    """Time, injectable: tests move it by hand."""

    now: Callable[[], datetime]
    sleep: Callable[[float], None]
    monotonic: Callable[[], float]


@dataclass(frozen=True)
class IdempotentCall:
    key: dict[str, Any]
    fingerprint: dict[str, Any] = field(default_factory=dict)  # must match on a repeat (non-secret fields only)


# --------------------------------------------------------------------------------------------- ports


class UpdateStore(Protocol):
    def get(self, update_id: str) -> StoredUpdate | None: ...

    def create(self, record: UpdateRecord) -> bool:
        """Write a new record; False if one with this id exists already."""
        ...

    def save(self, record: UpdateRecord, *, expected_version: int) -> StoredUpdate:
        """Write ``record`` if nobody wrote since ``expected_version`` (else StaleUpdate); the version goes up. The
        answer holds the task parked on the update as that same write left it."""
        ...

    def park_task_token(self, update_id: str, token: str, *, kind: WaitingTask, while_status: UpdateStatus) -> bool:
        """Remember the workflow task that waits on the update, if the update still stands at ``while_status``
        (False: it moved on, or is gone)."""
        ...

    def claim_polls(
        self, update_id: str, *, loop_id: str, previous_loop_id: str | None, token: str, task_entered_at: str
    ) -> StoredUpdate | None:
        """A poll loop takes over the update's polls and parks its Poll task's token, in one write: a loop of a
        later Poll task (``task_entered_at``) takes them from an earlier one's; a loop continuing
        ``previous_loop_id`` takes them from it; the loop holding them (``loop_id``) may claim them again (a retried
        poll). Anything else (a duplicate start of a loop) is refused: None."""
        ...

    def claim_round(self, update_id: str, *, auth_round: int, now: datetime, lease: timedelta) -> bool: ...

    def release_round(self, update_id: str, *, auth_round: int) -> None: ...

    def open_updates(self, *, created_before: datetime) -> Iterator[str]:
        """Ids of updates that are not terminal yet and were created before the given moment."""
        ...

    def link_callback(self, token_digest: str, update_id: str, *, expires_at: datetime) -> None: ...

    def find_by_callback(self, token_digest: str) -> str | None: ...


class ConnectionStore(Protocol):
    def get(self, owner_id: str, connection_id: int) -> ConnectionRecord | None: ...

    def acquire_lock(
        self,
        owner_id: str,
        connection_id: int,
        *,
        update_id: str,
        now: datetime,
        lease_until: datetime,
        create: ConnectionRecord | None = None,
        rate: TriggerRate | None = None,
    ) -> LockAttempt:
        """Take the lock in one conditional write (a lease that ran out can be taken over). ``create``: the
        connection's first record, written by the same write when it does not exist yet (otherwise an unknown
        connection is refused as MISSING). ``rate``: also count a user-present trigger within its limit."""
        ...

    def release(self, owner_id: str, connection_id: int, *, update_id: str, outcome: ConnectionOutcome | None) -> bool:
        """Write the outcome and release the lock in one write, if ``update_id`` still holds it."""
        ...

    def record_facts(self, owner_id: str, facts: ConnectionFacts, now: datetime) -> None:
        """Create or refresh a connection from what finAPI says about it (admin sync)."""
        ...


class ScheduleStore(Protocol):
    def set_schedule(
        self, owner_id: str, connection_id: int, *, enabled: bool, next_due_at: datetime | None
    ) -> None: ...

    def reschedule(
        self, owner_id: str, connection_id: int, *, next_due_at: datetime | None, skip: SkipReason | None, now: datetime
    ) -> None: ...

    def consume_unattended(
        self, owner_id: str, connection_id: int, *, budget: UnattendedBudget, now: datetime
    ) -> bool: ...

    def mark_consent_warned(self, owner_id: str, connection_id: int, expires_at: datetime) -> bool: ...

    def due(self, *, now: datetime) -> Iterator[tuple[str, int, datetime]]: ...

    def list_for_owner(self, owner_id: str) -> list[ConnectionRecord]: ...


class UserStore(Protocol):
    def put(self, owner_id: str, username: str, password: SecretStr, now: datetime) -> None: ...

    def get(self, owner_id: str) -> FinapiUserRecord | None: ...


class BankGateway(Protocol):
    """finAPI, the way this deployment reaches it: the Access update endpoint (own licence) or Web Form 2.0
    background updates. Everything else about an update is the same for both."""

    def connection_facts(self, owner_id: str, connection_id: int) -> ConnectionFacts:
        """NotFound unless the connection belongs to this user's finAPI user."""
        ...

    def list_connections(self, owner_id: str) -> list[ConnectionFacts]: ...

    def start(self, owner_id: str, request: StartRequest) -> StartOutcome: ...

    def answer(self, owner_id: str, request: AnswerRequest) -> StartOutcome: ...

    def poll(self, owner_id: str, target: PollTarget, now: datetime) -> PollOutcome: ...

    def read_accounts(
        self, owner_id: str, account_ids: Sequence[int], *, interface: str | None, known_ids: Sequence[int]
    ) -> tuple[AccountOutcome, ...]: ...


class BankData(Protocol):
    """finAPI's data of a user's connection, read with the user's token when asked; none of it is stored."""

    def imported_since(self, owner_id: str, account_ids: Sequence[int], day: date) -> list[BankTransaction]:
        """Every transaction of these accounts imported on or after ``day`` (finAPI's ``minImportDate``), all pages."""
        ...

    def transactions(self, owner_id: str, ids: Sequence[int]) -> list[BankTransaction]:
        """Those of ``ids`` finAPI (still) has for this user, at most ``MAX_PAGE`` per call."""
        ...

    def accounts(self, owner_id: str, connection_id: int) -> ConnectionAccounts:
        """The connection's bank and accounts as finAPI has them now (NotFound unless the user's)."""
        ...


class ChangeLog(Protocol):
    """Per connection: where the last look at its transactions left off, and the log of what each look found (ids
    and counters only)."""

    def state(self, owner_id: str, connection_id: int) -> ScanState | None: ...

    def record(
        self,
        owner_id: str,
        connection_id: int,
        state: ScanState,
        entries: Sequence[ChangeEntry],
        *,
        expected: int,
        at: datetime,
    ) -> ScanState:
        """Write the entries and the new state at once, if the state is still at version ``expected`` (0: none yet);
        StaleChanges otherwise. The stored state's version goes up; where the changes of ``state.last_update_id``
        begin is kept beside them. ``at``: now (what is written expires a retention later)."""
        ...

    def entries_after(self, owner_id: str, connection_id: int, seq: int, *, limit: int) -> list[ChangeEntry]:
        """Up to ``limit`` entries after ``seq``, in order (entries older than the log keeps may be gone)."""
        ...

    def entry(self, owner_id: str, connection_id: int, seq: int) -> ChangeEntry | None:
        """One entry by its number (a look that finds its own entries reads them so, without a query)."""
        ...

    def position_of(self, owner_id: str, connection_id: int, update_id: str) -> int | None:
        """Where an update's changes begin in the log (``record`` keeps it for the state's ``last_update_id``);
        None if no look of that update, on this user's connection, was recorded (or it is older than the log)."""
        ...


class CursorKeys(Protocol):
    def keys(self) -> tuple[CursorKey, ...]:
        """The key to sign with first, then any earlier one still accepted."""
        ...


class Workflow(Protocol):
    """The update's workflow (a Standard execution named after the update; its tasks wait on task tokens)."""

    def execution_arn(self, update_id: str) -> str: ...

    def start(self, payload: WorkflowInput, *, retry_throttles: bool = True) -> bool:
        """Start the execution named ``payload.update_id`` (starting it twice is harmless). True: it runs now (as
        Step Functions answers a start repeated while the execution runs with the same input, this includes one that
        ran already); False: an execution of that name exists and has ended (or has another input).
        ``retry_throttles=False``: a refusal for rate raises ``AwsThrottled`` at once, for a caller that leaves the
        start to the reconciler rather than wait (D35)."""
        ...

    def state(self, update_id: str) -> ExecutionState: ...

    def keep_alive(self, task_token: str) -> bool:
        """A sign of life for the waiting task; False if the task is over."""
        ...

    def release(self, task_token: str, output: WorkflowOutput) -> bool:
        """End the waiting task because the update is finished; False if it was over already."""
        ...

    def resume(self, task_token: str, update_id: str) -> bool:
        """End a wait for the user or for a callback: the update moved on (False if the task was over already)."""
        ...

    def hand_back(self, task_token: str, reason: HandBack, detail: HandBackDetail) -> bool:
        """End a Poll task with ``reason``: the update waits outside the poll loop (False if it was over already)."""
        ...

    def recently_failed(self, *, stopped_since: datetime, started_since: datetime) -> Iterator[str]:
        """Update ids whose execution failed (or was aborted or timed out) since ``stopped_since``; executions that
        started before ``started_since`` cannot have (the workflow's own time limit)."""
        ...


class EventBus(Protocol):
    def publish(self, event: OutcomeEvent) -> None: ...


class DueQueue(Protocol):
    def send_all(self, messages: Iterable[BaseModel], delay_of: Callable[[int], int] | None = None) -> tuple[int, int]:
        """Send in batches, the ``i``-th message held back ``delay_of(i)`` seconds; returns (messages sent, calls
        made)."""
        ...

    def waiting(self) -> int:
        """Messages sent and not yet handled (visible, in flight or held back): what the consumer still owes."""
        ...

    def come_back_in(self, receipt: str, seconds: int) -> None:
        """A received message the consumer could not handle now: visible again ``seconds`` from now."""
        ...


class IdempotencyStore(Protocol):
    def run_once(self, call: IdempotentCall, action: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        """Run ``action`` once per key; a repeat gets the first answer (IdempotencyKeyReused if the fingerprint
        differs, UpdateAlreadyRunning while the first is still running)."""
        ...
