"""The object graph, built once: every use case from one bundle of ports.

Production hands it the deployment's adapters (``composition.Adapters``, each adapter made on first use); the tests
hand it in-memory fakes (``tests/usecases/system.py``). Use case modules are imported by the method that builds
them, so a function pays at cold start only for the use case it runs (decision D16).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from bankupdate.ports import (
        BankData,
        BankGateway,
        ChangeLog,
        Clock,
        ConnectionStore,
        CursorKeys,
        DueQueue,
        EventBus,
        IdempotencyStore,
        ScheduleStore,
        UpdateStore,
        UserStore,
        Workflow,
    )
    from bankupdate.services.finalizer import Finalizer
    from bankupdate.services.locks import ConnectionLocks
    from bankupdate.services.progress import Progress
    from bankupdate.services.recovery import Recovery
    from bankupdate.services.what_changed import WhatChanged
    from bankupdate.settings import Settings
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


class Ports(Protocol):
    """What the use cases work through. Read-only attributes, so an implementation may make each on first use."""

    @property
    def settings(self) -> Settings: ...
    @property
    def clock(self) -> Clock: ...
    @property
    def updates(self) -> UpdateStore: ...
    @property
    def connections(self) -> ConnectionStore: ...
    @property
    def schedules(self) -> ScheduleStore: ...
    @property
    def users(self) -> UserStore: ...
    @property
    def gateway(self) -> BankGateway: ...
    @property
    def workflow(self) -> Workflow: ...
    @property
    def events(self) -> EventBus: ...
    @property
    def due_queue(self) -> DueQueue: ...
    @property
    def idempotency(self) -> IdempotencyStore | None: ...
    @property
    def bank_data(self) -> BankData: ...
    @property
    def change_log(self) -> ChangeLog: ...
    @property
    def cursor_keys(self) -> CursorKeys: ...

    def api_base_url(self) -> str:
        """Where finAPI's Web Form 2.0 callbacks reach our HTTP API."""
        ...


class UseCases:
    def __init__(self, ports: Ports) -> None:
        self.ports = ports

    # ------------------------------------------------------------------------------------------ shared flow

    def finalizer(self) -> Finalizer:
        from bankupdate.services.finalizer import Finalizer

        p = self.ports
        return Finalizer(p.updates, p.connections, p.events, p.workflow, p.clock, p.settings)

    def progress(self) -> Progress:
        from bankupdate.services.progress import Progress

        p = self.ports
        return Progress(p.updates, p.events, p.workflow, self.finalizer(), p.clock, p.settings, p.schedules)

    def locks(self) -> ConnectionLocks:
        from bankupdate.services.locks import ConnectionLocks

        p = self.ports
        return ConnectionLocks(p.connections, p.updates, p.clock, p.settings)

    def recovery(self) -> Recovery:
        from bankupdate.services.recovery import Recovery

        p = self.ports
        return Recovery(p.updates, p.connections, p.workflow, self.finalizer(), p.clock, p.settings)

    def what_changed(self) -> WhatChanged:
        from bankupdate.services.what_changed import WhatChanged

        p = self.ports
        return WhatChanged(p.bank_data, p.change_log, p.updates, p.settings)

    # ------------------------------------------------------------------------------------------ use cases

    def trigger_update(self) -> TriggerUpdate:
        from bankupdate.usecases.trigger_update import TriggerUpdate

        p = self.ports
        return TriggerUpdate(
            updates=p.updates,
            locks=self.locks(),
            gateway=p.gateway,
            workflow=p.workflow,
            progress=self.progress(),
            finalizer=self.finalizer(),
            recovery=self.recovery(),
            idempotency=p.idempotency,
            clock=p.clock,
            settings=p.settings,
            callback_base_url=p.api_base_url,
        )

    def collect_credentials(self) -> CollectCredentials:
        from bankupdate.usecases.collect_credentials import CollectCredentials

        p = self.ports
        return CollectCredentials(
            p.updates, p.gateway, p.workflow, self.progress(), self.finalizer(), p.clock, p.settings
        )

    def poll_update_status(self) -> PollUpdateStatus:
        from bankupdate.usecases.poll_update_status import PollUpdateStatus

        p = self.ports
        return PollUpdateStatus(
            p.updates,
            p.gateway,
            p.workflow,
            self.progress(),
            self.finalizer(),
            self.what_changed(),
            p.clock,
            p.settings,
        )

    def park_task_token(self) -> ParkTaskToken:
        from bankupdate.usecases.park_task_token import ParkTaskToken

        return ParkTaskToken(self.ports.updates, self.ports.workflow)

    def finalize_update(self) -> FinalizeUpdate:
        from bankupdate.usecases.finalize import FinalizeUpdate

        p = self.ports
        return FinalizeUpdate(p.updates, p.workflow, self.finalizer())

    def webform_callback(self) -> HandleWebFormCallback:
        from bankupdate.usecases.webform_callback import HandleWebFormCallback

        return HandleWebFormCallback(self.ports.updates, self.ports.workflow)

    def read_connection_accounts(self) -> ReadConnectionAccounts:
        from bankupdate.usecases.bank_data import ReadConnectionAccounts

        return ReadConnectionAccounts(self.ports.connections, self.ports.bank_data)

    def read_transaction_changes(self) -> ReadTransactionChanges:
        from bankupdate.usecases.bank_data import ReadTransactionChanges

        p = self.ports
        return ReadTransactionChanges(
            connections=p.connections,
            log=p.change_log,
            bank_data=p.bank_data,
            keys=p.cursor_keys,
            clock=p.clock,
            settings=p.settings,
        )

    def read_updates(self) -> ReadUpdates:
        from bankupdate.usecases.query import ReadUpdates

        p = self.ports
        return ReadUpdates(p.updates, p.connections, p.schedules)

    def set_schedule(self) -> SetSchedule:
        from bankupdate.usecases.connection_settings import SetSchedule

        p = self.ports
        return SetSchedule(p.connections, p.schedules, p.clock)

    def schedule_updates(self) -> ScheduleUpdates:
        from bankupdate.usecases.schedule_updates import ScheduleUpdates

        p = self.ports
        return ScheduleUpdates(p.schedules, p.due_queue, p.clock, p.settings.pacing)

    def start_scheduled_update(self) -> StartScheduledUpdate:
        from bankupdate.usecases.start_scheduled_update import StartScheduledUpdate

        p = self.ports
        return StartScheduledUpdate(
            connections=p.connections,
            schedules=p.schedules,
            updates=p.updates,
            locks=self.locks(),
            gateway=p.gateway,
            workflow=p.workflow,
            progress=self.progress(),
            finalizer=self.finalizer(),
            events=p.events,
            clock=p.clock,
            settings=p.settings,
            callback_base_url=p.api_base_url,
        )

    def deliver_due_connection(self) -> DeliverDueConnection:
        from bankupdate.usecases.start_scheduled_update import DeliverDueConnection

        p = self.ports
        return DeliverDueConnection(self.start_scheduled_update(), p.due_queue, p.settings.throttled_retry)

    def register_finapi_user(self) -> RegisterFinapiUser:
        from bankupdate.usecases.register_user import RegisterFinapiUser

        return RegisterFinapiUser(self.ports.users, self.ports.clock)

    def sync_connections(self) -> SyncConnections:
        from bankupdate.usecases.sync_connections import SyncConnections

        p = self.ports
        return SyncConnections(p.gateway, p.connections, p.clock)

    def reconcile_stale_updates(self) -> ReconcileStaleUpdates:
        from bankupdate.usecases.reconcile_stale_updates import ReconcileStaleUpdates

        p = self.ports
        return ReconcileStaleUpdates(p.updates, p.workflow, self.recovery(), self.finalizer(), p.clock, p.settings)
