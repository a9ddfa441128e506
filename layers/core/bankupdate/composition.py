"""Composition root: which adapters each use case gets. Read top to bottom, it says who touches what.

Adapters are built on first use and kept for the process (per AWS endpoint, which the local stack moves around);
each adapter module (and boto3 or httpx behind it) is imported when the adapter is first built, so a function pays
at cold start only for what it really uses (decision D16).
"""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime, timedelta
from functools import cached_property, lru_cache
from typing import TYPE_CHECKING

from bankupdate.domain.model import Integration
from bankupdate.ports import Clock
from bankupdate.settings import Settings, forget_settings, get_settings

if TYPE_CHECKING:
    from bankupdate.finapi.access_gateway import AccessGateway
    from bankupdate.finapi.bank_data import AccessBankData
    from bankupdate.flow.finish import Completion
    from bankupdate.flow.locks import ConnectionLocks
    from bankupdate.flow.looking import LookLoop
    from bankupdate.flow.progress import Progress
    from bankupdate.flow.recovery import Recovery
    from bankupdate.flow.what_changed import WhatChanged
    from bankupdate.ports import BankGateway
    from bankupdate.stores.changes import DynamoChangeLog
    from bankupdate.stores.connections import DynamoConnectionStore, DynamoScheduleStore
    from bankupdate.stores.cursor_keys import SecretCursorKeys
    from bankupdate.stores.events import EventBridgeBus
    from bankupdate.stores.idempotency import PowertoolsIdempotencyStore
    from bankupdate.stores.queue import SqsDueQueue
    from bankupdate.stores.timer import SqsLookTimer
    from bankupdate.stores.updates import DynamoUpdateStore
    from bankupdate.stores.users import DynamoUserStore
    from bankupdate.stores.workflow import StepFunctionsWorkflow
    from bankupdate.usecases.answer_challenge import AnswerChallenge
    from bankupdate.usecases.bank_data import ReadConnectionAccounts, ReadTransactionChanges
    from bankupdate.usecases.connection_settings import SetSchedule
    from bankupdate.usecases.finalize_update import FinalizeUpdate
    from bankupdate.usecases.look_at_update import LookAtUpdate
    from bankupdate.usecases.queries import ReadUpdates
    from bankupdate.usecases.reconcile_stale import ReconcileStaleUpdates
    from bankupdate.usecases.register_user import RegisterFinapiUser
    from bankupdate.usecases.schedule_due import ScheduleDueConnections
    from bankupdate.usecases.start_scheduled import StartScheduledUpdate
    from bankupdate.usecases.supervise_update import SuperviseUpdate
    from bankupdate.usecases.sync_connections import SyncConnections
    from bankupdate.usecases.trigger_update import TriggerUpdate
    from bankupdate.usecases.webform_callback import HandleWebFormCallback


def system_clock() -> Clock:
    return Clock(now=lambda: datetime.now(UTC), sleep=time.sleep, monotonic=time.monotonic)


class Adapters:
    """The deployment's adapters, each built the first time a use case needs it."""

    def __init__(self, settings: Settings, clock: Clock) -> None:
        self.settings = settings
        self.clock = clock
        self._api_base_url: str | None = None

    @cached_property
    def updates(self) -> DynamoUpdateStore:
        from bankupdate.stores.updates import DynamoUpdateStore

        s = self.settings
        return DynamoUpdateStore(s.table_name, timedelta(days=s.update_retention_days), s.schedule_shards)

    @cached_property
    def connections(self) -> DynamoConnectionStore:
        from bankupdate.stores.connections import DynamoConnectionStore

        return DynamoConnectionStore(self.settings.table_name, self.settings.schedule_shards)

    @cached_property
    def schedules(self) -> DynamoScheduleStore:
        from bankupdate.stores.connections import DynamoScheduleStore

        return DynamoScheduleStore(self.settings.table_name, self.settings.schedule_shards)

    @cached_property
    def users(self) -> DynamoUserStore:
        from bankupdate.stores.users import DynamoUserStore, PasswordVault

        return DynamoUserStore(self.settings.table_name, PasswordVault(self.settings.password_key_id))

    @cached_property
    def access(self) -> AccessGateway:
        from bankupdate.finapi import ApiVersion, FinapiClient
        from bankupdate.finapi.access_gateway import AccessGateway
        from bankupdate.finapi.models import FinapiUserCredentials
        from bankupdate.stores.secrets import load_finapi_client_credentials

        credentials = load_finapi_client_credentials(self.settings.finapi_client_secret_id)
        finapi = FinapiClient(
            base_url=self.settings.finapi_base_url,
            client_id=credentials.clientId,
            client_secret=credentials.clientSecret.get_secret_value(),
            api_version=ApiVersion(self.settings.finapi_api_version),
            timeout_seconds=self.settings.finapi_timeout_seconds,
            sleep=self.clock.sleep,  # retry backoff waits through the Clock port, like every other wait
        )

        def load_user(owner_id: str) -> FinapiUserCredentials | None:
            found = self.users.get(owner_id)
            return FinapiUserCredentials(username=found.username, password=found.password) if found else None

        return AccessGateway(finapi, load_user)

    @cached_property
    def gateway(self) -> BankGateway:
        if self.settings.integration is Integration.ACCESS:
            return self.access
        from bankupdate.finapi.webform_client import WebFormClient
        from bankupdate.finapi.webform_gateway import WebFormGateway

        access = self.access
        webform = WebFormClient(
            base_url=self.settings.webform_base_url,
            user_token=lambda owner_id: access.client.user_token(access.principal(owner_id)),
            timeout_seconds=self.settings.finapi_timeout_seconds,
            sleep=self.clock.sleep,  # finAPI's once-a-second pace waits through the Clock port
        )
        return WebFormGateway(webform, access)

    @cached_property
    def bank_data(self) -> AccessBankData:
        from bankupdate.finapi.bank_data import AccessBankData

        access = self.access  # both integrations read finAPI's data through Access, with the user's token
        return AccessBankData(access.client, access.principal)

    @cached_property
    def change_log(self) -> DynamoChangeLog:
        from bankupdate.stores.changes import DynamoChangeLog

        return DynamoChangeLog(self.settings.table_name, timedelta(days=self.settings.changes_retention_days))

    @cached_property
    def cursor_keys(self) -> SecretCursorKeys:
        from bankupdate.stores.cursor_keys import SecretCursorKeys

        return SecretCursorKeys(self.settings.cursor_key_secret_id)

    @cached_property
    def workflow(self) -> StepFunctionsWorkflow:
        from bankupdate.stores.workflow import StepFunctionsWorkflow

        return StepFunctionsWorkflow(self.settings.state_machine_arn)

    @cached_property
    def timer(self) -> SqsLookTimer:
        from bankupdate.stores.timer import SqsLookTimer

        return SqsLookTimer(self.settings.look_queue_url)

    @cached_property
    def events(self) -> EventBridgeBus:
        from bankupdate.stores.events import EventBridgeBus

        return EventBridgeBus(self.settings.event_bus_name, self.settings.event_source)

    @cached_property
    def due_queue(self) -> SqsDueQueue:
        from bankupdate.stores.queue import SqsDueQueue

        return SqsDueQueue(self.settings.schedule_queue_url)

    @cached_property
    def idempotency(self) -> PowertoolsIdempotencyStore:
        from bankupdate.stores.idempotency import PowertoolsIdempotencyStore

        return PowertoolsIdempotencyStore(self.settings.idempotency_table_name, self.settings.idempotency_ttl_seconds)

    def api_base_url(self) -> str:
        """Read once per process: the API's URL does not change while the stack stands."""
        if self._api_base_url is None:
            from bankupdate.stores.parameters import api_base_url

            self._api_base_url = api_base_url(self.settings.api_url_parameter)
        return self._api_base_url

    # ------------------------------------------------------------------------------- shared flow

    def completion(self) -> Completion:
        from bankupdate.flow.finish import Completion

        return Completion(self.updates, self.connections, self.events, self.workflow, self.clock, self.settings)

    def progress(self) -> Progress:
        from bankupdate.flow.progress import Progress

        return Progress(
            self.updates, self.events, self.workflow, self.timer, self.completion(), self.clock, self.settings
        )

    def locks(self) -> ConnectionLocks:
        from bankupdate.flow.locks import ConnectionLocks

        return ConnectionLocks(self.connections, self.updates, self.clock, self.settings)

    def recovery(self) -> Recovery:
        from bankupdate.flow.recovery import Recovery

        return Recovery(self.updates, self.connections, self.workflow, self.completion(), self.clock, self.settings)

    def what_changed(self) -> WhatChanged:
        from bankupdate.flow.what_changed import WhatChanged

        return WhatChanged(self.bank_data, self.change_log, self.updates, self.settings)

    def look_loop(self) -> LookLoop:
        from bankupdate.flow.looking import LookLoop

        return LookLoop(
            self.gateway,
            self.updates,
            self.workflow,
            self.timer,
            self.progress(),
            self.completion(),
            self.clock,
            self.settings,
            self.what_changed(),
        )


@lru_cache(maxsize=32)
def _adapters(settings: Settings, endpoint: str | None, function_name: str | None) -> Adapters:
    return Adapters(settings, system_clock())


def adapters() -> Adapters:
    """The adapters of the function this process serves. What they cache (the finAPI client's credentials and
    tokens, the API's URL) was read with that function's role: in the local stack, where every function shares one
    process, another function must not find it."""
    return _adapters(get_settings(), os.environ.get("AWS_ENDPOINT_URL"), os.environ.get("AWS_LAMBDA_FUNCTION_NAME"))


def remember_invocation(lambda_context: object) -> None:
    """The invocation's deadline, for the adapters that need it (idempotency records expire with it)."""
    from bankupdate.stores.invocation import remember_lambda_context

    remember_lambda_context(lambda_context)


def reset() -> None:
    """Forget every cached adapter and setting (tests and the local stack start new environments)."""
    _adapters.cache_clear()
    forget_settings()


# ----------------------------------------------------------------------------------- use cases


def trigger_update() -> TriggerUpdate:
    from bankupdate.usecases.trigger_update import TriggerUpdate

    a = adapters()
    return TriggerUpdate(
        updates=a.updates,
        locks=a.locks(),
        gateway=a.gateway,
        workflow=a.workflow,
        progress=a.progress(),
        completion=a.completion(),
        recovery=a.recovery(),
        idempotency=a.idempotency,
        clock=a.clock,
        settings=a.settings,
        callback_base_url=a.api_base_url,
    )


def answer_challenge() -> AnswerChallenge:
    from bankupdate.usecases.answer_challenge import AnswerChallenge

    a = adapters()
    return AnswerChallenge(a.updates, a.gateway, a.workflow, a.progress(), a.completion(), a.clock, a.settings)


def supervise_update() -> SuperviseUpdate:
    from bankupdate.usecases.supervise_update import SuperviseUpdate

    a = adapters()
    return SuperviseUpdate(
        updates=a.updates,
        locks=a.locks(),
        schedules=a.schedules,
        gateway=a.gateway,
        workflow=a.workflow,
        progress=a.progress(),
        looks=a.look_loop(),
        completion=a.completion(),
        clock=a.clock,
        settings=a.settings,
        callback_base_url=a.api_base_url,
    )


def look_at_update() -> LookAtUpdate:
    from bankupdate.usecases.look_at_update import LookAtUpdate

    return LookAtUpdate(adapters().look_loop())


def finalize_update() -> FinalizeUpdate:
    from bankupdate.usecases.finalize_update import FinalizeUpdate

    a = adapters()
    return FinalizeUpdate(a.updates, a.completion())


def webform_callback() -> HandleWebFormCallback:
    from bankupdate.usecases.webform_callback import HandleWebFormCallback

    a = adapters()
    return HandleWebFormCallback(a.updates, a.timer, a.clock)


def read_updates() -> ReadUpdates:
    from bankupdate.usecases.queries import ReadUpdates

    a = adapters()
    return ReadUpdates(a.updates, a.connections, a.schedules)


def set_schedule() -> SetSchedule:
    from bankupdate.usecases.connection_settings import SetSchedule

    a = adapters()
    return SetSchedule(a.connections, a.schedules, a.clock)


def schedule_due_connections() -> ScheduleDueConnections:
    from bankupdate.usecases.schedule_due import ScheduleDueConnections

    a = adapters()
    return ScheduleDueConnections(a.schedules, a.due_queue, a.clock)


def start_scheduled_update() -> StartScheduledUpdate:
    from bankupdate.usecases.start_scheduled import StartScheduledUpdate

    a = adapters()
    return StartScheduledUpdate(a.connections, a.schedules, a.updates, a.workflow, a.events, a.clock, a.settings)


def register_finapi_user() -> RegisterFinapiUser:
    from bankupdate.usecases.register_user import RegisterFinapiUser

    a = adapters()
    return RegisterFinapiUser(a.users, a.clock)


def sync_connections() -> SyncConnections:
    from bankupdate.usecases.sync_connections import SyncConnections

    a = adapters()
    return SyncConnections(a.gateway, a.connections, a.clock)


def reconcile_stale_updates() -> ReconcileStaleUpdates:
    from bankupdate.usecases.reconcile_stale import ReconcileStaleUpdates

    a = adapters()
    return ReconcileStaleUpdates(a.updates, a.workflow, a.recovery(), a.completion(), a.clock, a.settings)


def read_connection_accounts() -> ReadConnectionAccounts:
    from bankupdate.usecases.bank_data import ReadConnectionAccounts

    a = adapters()
    return ReadConnectionAccounts(a.connections, a.bank_data)


def read_transaction_changes() -> ReadTransactionChanges:
    from bankupdate.usecases.bank_data import ReadTransactionChanges

    a = adapters()
    return ReadTransactionChanges(
        connections=a.connections,
        log=a.change_log,
        bank_data=a.bank_data,
        keys=a.cursor_keys,
        clock=a.clock,
        settings=a.settings,
    )
