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
from bankupdate.wiring import UseCases

if TYPE_CHECKING:
    from bankupdate.finapi.access_gateway import AccessGateway
    from bankupdate.finapi.bank_data import AccessBankData
    from bankupdate.finapi.budget import FinapiBudget
    from bankupdate.ports import BankGateway
    from bankupdate.stores.changes import DynamoChangeLog
    from bankupdate.stores.connections import DynamoConnectionStore, DynamoScheduleStore
    from bankupdate.stores.cursor_keys import SecretCursorKeys
    from bankupdate.stores.events import EventBridgeBus
    from bankupdate.stores.idempotency import PowertoolsIdempotencyStore
    from bankupdate.stores.queue import SqsDueQueue
    from bankupdate.stores.updates import DynamoUpdateStore
    from bankupdate.stores.users import DynamoUserStore
    from bankupdate.stores.workflow import StepFunctionsWorkflow
    from bankupdate.usecases.bank_data import ReadConnectionAccounts, ReadTransactionChanges
    from bankupdate.usecases.collect_credentials import CollectCredentials
    from bankupdate.usecases.connection_settings import SetSchedule
    from bankupdate.usecases.finalize import FinalizeUpdate
    from bankupdate.usecases.park_task_token import ParkTaskToken
    from bankupdate.usecases.poll_update_status import PollUpdateStatus
    from bankupdate.usecases.query import ReadUpdates
    from bankupdate.usecases.reconcile_stale_updates import ReconcileStaleUpdates
    from bankupdate.usecases.register_user import RegisterFinapiUser
    from bankupdate.usecases.schedule_updates import ScheduleUpdates
    from bankupdate.usecases.start_scheduled_update import DeliverDueConnection, StartScheduledUpdate
    from bankupdate.usecases.sync_connections import SyncConnections
    from bankupdate.usecases.trigger_update import TriggerUpdate
    from bankupdate.usecases.webform_callback import HandleWebFormCallback


def system_clock() -> Clock:
    return Clock(now=lambda: datetime.now(UTC), sleep=time.sleep, monotonic=time.monotonic)


class Adapters:
    """The deployment's adapters (``wiring.Ports``), each built the first time a use case needs it."""

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
            connect_timeout_seconds=self.settings.finapi_connect_timeout_seconds,
            sleep=self.clock.sleep,  # retry backoff waits through the Clock port, like every other wait
            budget=self.finapi_budget,
        )

        def load_user(owner_id: str) -> FinapiUserCredentials | None:
            found = self.users.get(owner_id)
            return FinapiUserCredentials(username=found.username, password=found.password) if found else None

        return AccessGateway(finapi, load_user)

    @cached_property
    def finapi_budget(self) -> FinapiBudget:
        from bankupdate.finapi.budget import FinapiBudget

        return FinapiBudget(self.settings.finapi_budget_seconds)

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
            forget_user_token=lambda owner_id: access.client.forget_user_token(access.principal(owner_id)),
            timeout_seconds=self.settings.finapi_timeout_seconds,
            connect_timeout_seconds=self.settings.finapi_connect_timeout_seconds,
            sleep=self.clock.sleep,  # finAPI's once-a-second pace waits through the Clock port
            monotonic=self.clock.monotonic,
            budget=self.finapi_budget,
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


@lru_cache(maxsize=32)
def _adapters(settings: Settings, endpoint: str | None, function_name: str | None) -> Adapters:
    return Adapters(settings, system_clock())


def adapters() -> Adapters:
    """The adapters of the function this process serves. What they cache (the finAPI client's credentials and
    tokens, the API's URL) was read with that function's role: in the local stack, where every function shares one
    process, another function must not find it.

    Every use case is built through here, once per invocation (per record in an SQS batch): each run gets the whole
    finAPI budget (``FINAPI_BUDGET_SECONDS``)."""
    found = _adapters(get_settings(), os.environ.get("AWS_ENDPOINT_URL"), os.environ.get("AWS_LAMBDA_FUNCTION_NAME"))
    if "finapi_budget" in found.__dict__:  # only once finAPI was used: the budget module loads with the clients
        found.finapi_budget.restart()
    return found


def now() -> datetime:
    """The time as the deployment's clock tells it (what a handler's view of a record is computed against)."""
    return adapters().clock.now()


def remember_invocation(lambda_context: object) -> None:
    """The invocation's deadline, for the adapters that need it (idempotency records expire with it)."""
    from bankupdate.stores.invocation import remember_lambda_context

    remember_lambda_context(lambda_context)


def reset() -> None:
    """Forget every cached adapter and setting (tests and the local stack start new environments)."""
    _adapters.cache_clear()
    forget_settings()


# ----------------------------------------------------------------------------------- use cases


def _use_cases() -> UseCases:
    return UseCases(adapters())


def trigger_update() -> TriggerUpdate:
    return _use_cases().trigger_update()


def collect_credentials() -> CollectCredentials:
    return _use_cases().collect_credentials()


def poll_update_status() -> PollUpdateStatus:
    return _use_cases().poll_update_status()


def park_task_token() -> ParkTaskToken:
    return _use_cases().park_task_token()


def finalize_update() -> FinalizeUpdate:
    return _use_cases().finalize_update()


def webform_callback() -> HandleWebFormCallback:
    return _use_cases().webform_callback()


def read_updates() -> ReadUpdates:
    return _use_cases().read_updates()


def set_schedule() -> SetSchedule:
    return _use_cases().set_schedule()


def schedule_updates() -> ScheduleUpdates:
    return _use_cases().schedule_updates()


def start_scheduled_update() -> StartScheduledUpdate:
    return _use_cases().start_scheduled_update()


def deliver_due_connection() -> DeliverDueConnection:
    return _use_cases().deliver_due_connection()


def register_finapi_user() -> RegisterFinapiUser:
    return _use_cases().register_finapi_user()


def sync_connections() -> SyncConnections:
    return _use_cases().sync_connections()


def reconcile_stale_updates() -> ReconcileStaleUpdates:
    return _use_cases().reconcile_stale_updates()


def read_connection_accounts() -> ReadConnectionAccounts:
    return _use_cases().read_connection_accounts()


def read_transaction_changes() -> ReadTransactionChanges:
    return _use_cases().read_transaction_changes()
