"""The application composed from the in-memory ports and the real finAPI adapters (against the sandbox simulator),
by the same builder as the deployed one (``bankupdate.wiring.UseCases``), plus the moves the infrastructure makes
around the use cases: the update workflow (``tests/fakes/workflow.py``, as the ASL moves), the Express poll loops it
starts (run here: Wait the gap, then PollUpdateStatus), ParkTaskToken for its waits, and Finalize through a Catch."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any, cast

from pydantic import SecretStr

from bankupdate.contract import (
    CatchFailure,
    DueConnection,
    PollLoopState,
    PollNext,
    PollRequest,
    WaitingTask,
    WorkflowOutput,
)
from bankupdate.domain.answers import AuthenticationAnswer, Credential
from bankupdate.domain.model import BankingInterface, UpdateOptions, UpdateRecord
from bankupdate.domain.psu import PsuContext
from bankupdate.finapi import ApiVersion, FinapiClient
from bankupdate.finapi.access_gateway import AccessGateway
from bankupdate.finapi.bank_data import AccessBankData
from bankupdate.finapi.models import FinapiUserCredentials
from bankupdate.finapi.webform_client import WebFormClient
from bankupdate.finapi.webform_gateway import WebFormGateway
from bankupdate.ports import BankData, BankGateway, Clock, IdempotencyStore
from bankupdate.settings import Settings
from bankupdate.usecases.start_scheduled_update import ScheduledStart
from bankupdate.usecases.trigger_update import TriggerRequest
from bankupdate.wiring import UseCases
from finapi_sandbox import SandboxServer
from finapi_sandbox.state import Call
from tests.fakes import (
    ConnectionItems,
    FakeWorkflow,
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
# The deployment's settings, as the template's environment gives them.
BASE_ENVIRONMENT = {
    "TABLE_NAME": "state",
    "IDEMPOTENCY_TABLE_NAME": "idempotency",
    "EVENT_BUS_NAME": "bank-updates",
    "STATE_MACHINE_ARN": STATE_MACHINE_ARN,
    "ALLOWED_REDIRECT_URLS": "https://app.example.com/",
    "SCHEDULE_QUEUE_URL": "https://sqs.eu-central-1.amazonaws.com/123456789012/schedule",
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
class FakePorts:
    """``wiring.Ports`` in memory (and the real finAPI adapters)."""

    settings: Settings
    clock: Clock
    updates: InMemoryUpdateStore
    connections: InMemoryConnectionStore
    schedules: InMemoryScheduleStore
    users: InMemoryUserStore
    gateway: BankGateway
    workflow: FakeWorkflow
    events: RecordingEventBus
    due_queue: RecordingDueQueue
    idempotency: IdempotencyStore | None
    bank_data: BankData
    change_log: InMemoryChangeLog
    cursor_keys: StaticCursorKeys
    callback_base_url: str

    def api_base_url(self) -> str:
        return self.callback_base_url


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
        self.idempotency = InMemoryIdempotencyStore(self.clock, self.settings.idempotency_ttl_seconds)
        self.use_cases = UseCases(
            FakePorts(
                settings=self.settings,
                clock=self.clock.port,
                updates=self.updates,
                connections=self.connections,
                schedules=self.schedules,
                users=self.users,
                gateway=self.gateway,
                workflow=self.workflow,
                events=self.events,
                due_queue=self.due_queue,
                idempotency=self.idempotency,
                bank_data=self.bank_data,
                change_log=self.change_log,
                cursor_keys=self.cursor_keys,
                callback_base_url=self.callback_base_url,
            )
        )
        self.polls: list[PollLoopState] = []  # every poll's answer, in order

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
        self.use_cases.register_finapi_user()(owner_id=owner, username=username, password=SecretStr(password))
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
        return self.use_cases.trigger_update()(self.request(user, **request))

    def answer(self, user: BankUser, update_id: str, **fields: Any) -> UpdateRecord:
        return self.use_cases.collect_credentials()(
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

    # ----------------------------------------------------------------------------- the workflow around them

    def run(self, update_id: str, *, at_most: int = 500) -> int:
        """Step Functions runs the update's workflow until it waits for something outside (the user, finAPI's
        callback, a wait's timeout) or ends: each Poll task's loops (a Wait of the gap, then one poll, as often as the
        loop says), ParkTaskToken once per wait, WaitLonger's gap. Returns the polls made; bounded: a loop that never
        ends fails the test."""
        polled = 0
        while self.workflow.state(update_id).value == "RUNNING":
            task = self.workflow.task_of(update_id)
            if task.state == "Poll":
                loop = self.workflow.take_loop(update_id)
                if loop is None:
                    return polled  # nothing left to run: the loop died (the task's heartbeat will tell)
                polled += self.run_loop(loop)
            elif task.state in ("AwaitUser", "AwaitCallback") and not task.parked:
                task.parked = True
                purpose = "USER" if task.state == "AwaitUser" else "CALLBACK"
                self.use_cases.park_task_token()(update_id, task.token, _purpose(purpose))
            elif task.state == "WaitLonger":
                assert task.ends_at is not None
                self.clock.advance_to(task.ends_at)
                self.workflow.wait_over(update_id)
            else:
                return polled
            assert polled <= at_most, "the polls never end"
        return polled

    def run_loop(self, state: PollLoopState) -> int:
        """One Express poll loop from its start, and the loops it hands on to (Continue). Returns the polls made."""
        execution, started_at, polls = f"loop-{uuid.uuid4().hex}", self.clock.now(), 0
        while True:
            self.clock.advance(state.gap_seconds)
            state = self.use_cases.poll_update_status()(
                PollRequest(loop=state, execution=execution, execution_started_at=started_at)
            )
            self.polls.append(state)
            polls += 1
            if state.next is PollNext.CONTINUE:
                execution, started_at = f"loop-{uuid.uuid4().hex}", self.clock.now()
            elif state.next is not PollNext.POLL:
                return polls

    def wait_runs_out(self, update_id: str) -> int:
        """The wait the workflow is in (for the user, a callback, or WaitLonger) reaches its end: the Catch sends it
        to Poll. Returns the polls made after it."""
        task = self.workflow.task_of(update_id)
        assert task.ends_at is not None, f"{task.state} has no end"
        self.clock.advance_to(task.ends_at)
        self.workflow.wait_over(update_id)
        return self.run(update_id)

    def catch(self, update_id: str, error: str, cause: str | None = None) -> WorkflowOutput:
        """The current task fails, times out or falls silent (``error``): the Catch hands the failure to Finalize,
        whose answer ends the execution."""
        failure: CatchFailure = self.workflow.catch(update_id, error, cause)
        output = self.use_cases.finalize_update()(update_id, failure)
        self.workflow.end(update_id, "SUCCEEDED", output)
        return output

    def start_scheduled(self, due: DueConnection) -> ScheduledStart:
        return self.use_cases.start_scheduled_update()(due)

    def deliver_due(self, due: DueConnection, *, receives: int, draw: float = 0.5) -> ScheduledStart:
        """The start function's handling of one SQS delivery (receipt ``r<receives>``), its jitter drawn as given."""
        deliver = self.use_cases.deliver_due_connection()
        deliver.draw = lambda: draw
        return deliver(due, receipt=f"r{receives}", receives=receives)


def _purpose(name: str) -> WaitingTask:
    return WaitingTask(name)


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
        forget_user_token=lambda owner_id: access.client.forget_user_token(access.principal(owner_id)),
        timeout_seconds=settings.finapi_timeout_seconds,
        sleep=clock.sleep,
        monotonic=clock.monotonic,
    )
    return WebFormGateway(webform, access)
