"""The application composed from the in-memory ports and the real finAPI adapters (against the sandbox simulator):
the tests' composition root, built the way ``bankupdate.composition`` builds the deployed one, plus the few moves
the infrastructure makes around the use cases (Step Functions runs the supervising task, SQS delivers delayed looks,
the Catch calls Finalize)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, cast

from pydantic import SecretStr

from bankupdate.contract import CatchFailure, DueConnection, LookMessage, WorkflowOutput
from bankupdate.domain.answers import AuthenticationAnswer, Credential
from bankupdate.domain.model import BankingInterface, UpdateOptions, UpdateRecord
from bankupdate.domain.psu import PsuContext
from bankupdate.finapi import ApiVersion, FinapiClient
from bankupdate.finapi.access_gateway import AccessGateway
from bankupdate.finapi.bank_data import AccessBankData
from bankupdate.finapi.models import FinapiUserCredentials
from bankupdate.finapi.webform_client import WebFormClient
from bankupdate.finapi.webform_gateway import WebFormGateway
from bankupdate.flow.finish import Completion
from bankupdate.flow.locks import ConnectionLocks
from bankupdate.flow.looking import LookLoop
from bankupdate.flow.progress import Progress
from bankupdate.flow.recovery import Recovery
from bankupdate.flow.what_changed import WhatChanged
from bankupdate.ports import BankGateway, Invocation
from bankupdate.settings import Settings
from bankupdate.usecases.answer_challenge import AnswerChallenge
from bankupdate.usecases.bank_data import ReadConnectionAccounts, ReadTransactionChanges
from bankupdate.usecases.connection_settings import SetSchedule
from bankupdate.usecases.finalize_update import FinalizeUpdate
from bankupdate.usecases.look_at_update import LookAtUpdate
from bankupdate.usecases.queries import ReadUpdates
from bankupdate.usecases.reconcile_stale import ReconcileStaleUpdates
from bankupdate.usecases.register_user import RegisterFinapiUser
from bankupdate.usecases.schedule_due import ScheduleDueConnections
from bankupdate.usecases.start_scheduled import ScheduledStart, StartScheduledUpdate
from bankupdate.usecases.supervise_update import SuperviseUpdate
from bankupdate.usecases.sync_connections import SyncConnections
from bankupdate.usecases.trigger_update import TriggerRequest, TriggerUpdate
from bankupdate.usecases.webform_callback import HandleWebFormCallback
from finapi_sandbox import SandboxServer
from finapi_sandbox.world import Call
from tests.fakes import (
    ConnectionItems,
    FakeWorkflow,
    HeldLookTimer,
    InMemoryChangeLog,
    InMemoryConnectionStore,
    InMemoryIdempotencyStore,
    InMemoryScheduleStore,
    InMemoryUpdateStore,
    InMemoryUserStore,
    ManualClock,
    RecordingDueQueue,
    RecordingEventBus,
    StaticCursorKeys,
)
from tests.fakes.workflow import STATE_MACHINE_ARN

APP_PSU = PsuContext(ip_address="203.0.113.7", device_os="iOS", user_agent="BankApp/1.0 (iPhone)")
DEMO = (Credential(label="Onlinebanking-ID", value=SecretStr("demo")), Credential(label="PIN", value=SecretStr("demo")))
NO_SCA = (
    Credential(label="Onlinebanking-ID", value=SecretStr("demo_no_msa")),
    Credential(label="PIN", value=SecretStr("demo_no_msa")),
)
TAN = "123456"
# The supervising and look functions' invocations (15 minutes at most, as the template gives them).
INVOCATION = Invocation(seconds_left=900.0, memory_mb=512)

# The deployment's settings, as the template's environment gives them, with short polls slept inline up to 1 s.
BASE_ENVIRONMENT = {
    "TABLE_NAME": "state",
    "IDEMPOTENCY_TABLE_NAME": "idempotency",
    "EVENT_BUS_NAME": "bank-updates",
    "STATE_MACHINE_ARN": STATE_MACHINE_ARN,
    "POLL_INLINE_MAX_GAP_SECONDS": "1",
    "ALLOWED_REDIRECT_URLS": "https://app.example.com/",
    "SCHEDULE_QUEUE_URL": "https://sqs.eu-central-1.amazonaws.com/123456789012/schedule",
    "LOOK_QUEUE_URL": "https://sqs.eu-central-1.amazonaws.com/123456789012/looks",
}


@dataclass
class BankUser:
    """One of our users, with a finAPI user of their own in the sandbox."""

    owner_id: str
    finapi_username: str
    connections: list[int]

    @property
    def connection(self) -> int:
        return self.connections[0]


@dataclass
class System:
    sandbox: SandboxServer
    clock: ManualClock
    settings: Settings
    gateway: BankGateway
    users: InMemoryUserStore
    callback_base_url: str = "https://api.example.com"
    updates: InMemoryUpdateStore = field(default_factory=InMemoryUpdateStore)
    items: ConnectionItems = field(default_factory=ConnectionItems)
    due_queue: RecordingDueQueue = field(default_factory=RecordingDueQueue)
    events: RecordingEventBus = field(default_factory=RecordingEventBus)
    change_log: InMemoryChangeLog = field(default_factory=InMemoryChangeLog)
    cursor_keys: StaticCursorKeys = field(default_factory=StaticCursorKeys)

    def __post_init__(self) -> None:
        # finAPI's data is read as the deployed functions read it: Access over HTTP, in both integrations.
        access = self.gateway if isinstance(self.gateway, AccessGateway) else cast(WebFormGateway, self.gateway).access
        self.bank_data = AccessBankData(access.client, access.principal)
        self.connections = InMemoryConnectionStore(self.items)
        self.schedules = InMemoryScheduleStore(self.items)
        self.workflow = FakeWorkflow(self.clock)
        self.timer = HeldLookTimer(self.clock)
        self.idempotency = InMemoryIdempotencyStore(self.clock, self.settings.idempotency_ttl_seconds)
        self.supervised: set[str] = set()

    # ----------------------------------------------------------------------------- shared flow (as composition)

    def completion(self) -> Completion:
        return Completion(self.updates, self.connections, self.events, self.workflow, self.clock.port, self.settings)

    def progress(self) -> Progress:
        return Progress(
            self.updates, self.events, self.workflow, self.timer, self.completion(), self.clock.port, self.settings
        )

    def locks(self) -> ConnectionLocks:
        return ConnectionLocks(self.connections, self.updates, self.clock.port, self.settings)

    def recovery(self) -> Recovery:
        return Recovery(
            self.updates, self.connections, self.workflow, self.completion(), self.clock.port, self.settings
        )

    def what_changed(self) -> WhatChanged:
        return WhatChanged(self.bank_data, self.change_log, self.updates, self.settings)

    def look_loop(self) -> LookLoop:
        return LookLoop(
            self.gateway,
            self.updates,
            self.workflow,
            self.timer,
            self.progress(),
            self.completion(),
            self.clock.port,
            self.settings,
            self.what_changed(),
        )

    # ----------------------------------------------------------------------------- use cases (as composition)

    def trigger_update(self) -> TriggerUpdate:
        return TriggerUpdate(
            updates=self.updates,
            locks=self.locks(),
            gateway=self.gateway,
            workflow=self.workflow,
            progress=self.progress(),
            completion=self.completion(),
            recovery=self.recovery(),
            idempotency=self.idempotency,
            clock=self.clock.port,
            settings=self.settings,
            callback_base_url=lambda: self.callback_base_url,
        )

    def answer_challenge(self) -> AnswerChallenge:
        return AnswerChallenge(
            self.updates,
            self.gateway,
            self.workflow,
            self.progress(),
            self.completion(),
            self.clock.port,
            self.settings,
        )

    def supervise_update(self) -> SuperviseUpdate:
        return SuperviseUpdate(
            updates=self.updates,
            locks=self.locks(),
            schedules=self.schedules,
            gateway=self.gateway,
            workflow=self.workflow,
            progress=self.progress(),
            looks=self.look_loop(),
            completion=self.completion(),
            clock=self.clock.port,
            settings=self.settings,
            callback_base_url=lambda: self.callback_base_url,
        )

    def look_at_update(self) -> LookAtUpdate:
        return LookAtUpdate(self.look_loop())

    def finalize_update(self) -> FinalizeUpdate:
        return FinalizeUpdate(self.updates, self.completion())

    def webform_callback(self) -> HandleWebFormCallback:
        return HandleWebFormCallback(self.updates, self.timer, self.clock.port)

    def read_transaction_changes(self) -> ReadTransactionChanges:
        return ReadTransactionChanges(
            connections=self.connections,
            log=self.change_log,
            bank_data=self.bank_data,
            keys=self.cursor_keys,
            clock=self.clock.port,
            settings=self.settings,
        )

    def read_connection_accounts(self) -> ReadConnectionAccounts:
        return ReadConnectionAccounts(self.connections, self.bank_data)

    def read_updates(self) -> ReadUpdates:
        return ReadUpdates(self.updates, self.connections, self.schedules)

    def set_schedule(self) -> SetSchedule:
        return SetSchedule(self.connections, self.schedules, self.clock.port)

    def schedule_due_connections(self) -> ScheduleDueConnections:
        return ScheduleDueConnections(self.schedules, self.due_queue, self.clock.port)

    def start_scheduled_update(self) -> StartScheduledUpdate:
        return StartScheduledUpdate(
            self.connections, self.schedules, self.updates, self.workflow, self.events, self.clock.port, self.settings
        )

    def register_finapi_user(self) -> RegisterFinapiUser:
        return RegisterFinapiUser(self.users, self.clock.port)

    def sync_connections(self) -> SyncConnections:
        return SyncConnections(self.gateway, self.connections, self.clock.port)

    def reconcile_stale_updates(self) -> ReconcileStaleUpdates:
        return ReconcileStaleUpdates(
            self.updates, self.workflow, self.recovery(), self.completion(), self.clock.port, self.settings
        )

    # ----------------------------------------------------------------------------- the world around them

    def new_user(self, *banks: str, **connection_options: Any) -> BankUser:
        """A user of ours with a finAPI user and a connection per bank (``DEMO0001`` unless named)."""
        suffix = uuid.uuid4().hex[:10]
        owner, username, password = f"user-{suffix}", f"finapi-{suffix}", f"pw-{suffix}"
        self.sandbox.world.create_user(username, password)
        connections = [
            self.sandbox.world.add_connection(username, bank_blz=bank, **connection_options)
            for bank in (banks or ("DEMO0001",))
        ]
        self.register_finapi_user()(owner_id=owner, username=username, password=SecretStr(password))
        return BankUser(owner, username, connections)

    def request(
        self,
        user: BankUser,
        *,
        credentials: tuple[Credential, ...] = (),
        options: UpdateOptions | None = None,
        idempotency_key: str | None = None,
        connection_id: int | None = None,
    ) -> TriggerRequest:
        chosen = options or UpdateOptions()
        if credentials and chosen.interface is None:
            # Our API refuses credentials without the interface they are for, as finAPI does (the app sends both).
            chosen = chosen.model_copy(update={"interface": BankingInterface.XS2A})
        return TriggerRequest(
            owner_id=user.owner_id,
            connection_id=connection_id if connection_id is not None else user.connection,
            options=chosen,
            credentials=credentials,
            psu=APP_PSU,
            request_id=None,
            idempotency_key=idempotency_key,
        )

    def trigger(self, user: BankUser, **request: Any) -> UpdateRecord:
        return self.trigger_update()(self.request(user, **request))

    def answer(self, user: BankUser, update_id: str, **fields: Any) -> UpdateRecord:
        return self.answer_challenge()(
            owner_id=user.owner_id, update_id=update_id, answer=AuthenticationAnswer(**fields), psu=APP_PSU
        )

    def update_calls(self, connection_id: int) -> list[Call]:
        """finAPI's update endpoint, as the sandbox saw it called for this connection."""
        return [
            c
            for c in self.sandbox.world.calls
            if c.method == "POST" and c.path.endswith("/bankConnections/update") and c.connection_id == connection_id
        ]

    def record(self, update_id: str) -> UpdateRecord:
        stored = self.updates.get(update_id)
        assert stored is not None, f"update {update_id} is not stored"
        return stored.record

    def supervise(self, update_id: str) -> None:
        """Step Functions invokes the supervising task of the update's execution (once per execution)."""
        assert update_id not in self.supervised, "the supervising task runs once per execution"
        self.supervised.add(update_id)
        self.supervise_update()(update_id, self.workflow.token_of(update_id), INVOCATION)

    def deliver_looks(self, *, at_most: int = 200) -> int:
        """SQS hands every delayed look to the look function when it is due, the clock moving on to each in turn,
        until none is held. Returns how many were delivered (bounded: a look chain that never ends fails the test)."""
        delivered = 0
        while self.timer.pending:
            for message in self.timer.advance_to_next():
                self.look(message)
                delivered += 1
            assert delivered <= at_most, "the looks never end"
        return delivered

    def deliver_due_looks(self) -> None:
        """SQS hands the looks due by now to the look function; the clock stays where it is."""
        for message in self.timer.take_due():
            self.look(message)

    def deliver_looks_until(self, done: Callable[[UpdateRecord], bool], update_id: str, *, at_most: int = 50) -> None:
        """Deliver delayed looks one due time after another until the update's record satisfies ``done``."""
        for _ in range(at_most):
            if done(self.record(update_id)):
                return
            assert self.timer.pending, "no look is left to deliver"
            for message in self.timer.advance_to_next():
                self.look(message)
        raise AssertionError("the update never got there")

    def look(self, message: LookMessage) -> None:
        self.look_at_update()(message, INVOCATION)

    def catch(self, update_id: str, error: str, cause: str | None = None) -> WorkflowOutput:
        """The supervising task fails (``error``): the Catch hands the failure to Finalize, whose answer ends the
        execution."""
        failure: CatchFailure = self.workflow.catch(update_id, error, cause)
        output = self.finalize_update()(update_id, failure)
        self.workflow.end(update_id, "SUCCEEDED")
        return output

    def start_scheduled(self, due: DueConnection) -> ScheduledStart:
        return self.start_scheduled_update()(due)


def settings_for(sandbox: SandboxServer, **environment: str) -> Settings:
    return Settings.model_validate(BASE_ENVIRONMENT | {"FINAPI_BASE_URL": sandbox.base_url} | environment)


def access_gateway(
    sandbox: SandboxServer, settings: Settings, clock: ManualClock, users: InMemoryUserStore
) -> AccessGateway:
    client = FinapiClient(
        base_url=settings.finapi_base_url,
        client_id=sandbox.client_id,
        client_secret=sandbox.client_secret,
        api_version=ApiVersion(settings.finapi_api_version),
        timeout_seconds=settings.finapi_timeout_seconds,
        sleep=clock.sleep,
    )

    def load_user(owner_id: str) -> FinapiUserCredentials | None:
        found = users.get(owner_id)
        return FinapiUserCredentials(username=found.username, password=found.password) if found else None

    return AccessGateway(client, load_user)


def webform_gateway(access: AccessGateway, settings: Settings, clock: ManualClock) -> WebFormGateway:
    webform = WebFormClient(
        base_url=settings.webform_base_url,
        user_token=lambda owner_id: access.client.user_token(access.principal(owner_id)),
        timeout_seconds=settings.finapi_timeout_seconds,
        sleep=clock.sleep,
    )
    return WebFormGateway(webform, access)
