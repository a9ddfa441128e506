"""The adapters a use case works with. Each is built on first use, so a function pays (cold start, IAM) only for
the adapters it really touches: the scheduler never loads the finAPI client or its secret. The adapter modules (and
boto3 and httpx behind them) are imported inside each property for the same reason."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import cached_property
from typing import TYPE_CHECKING

from bankupdate.domain.budget import UnattendedBudget
from bankupdate.settings import Settings

if TYPE_CHECKING:
    from bankupdate.finapi import FinapiClient
    from bankupdate.stores.connections import ConnectionRepository, ScheduleRepository
    from bankupdate.stores.events import EventPublisher
    from bankupdate.stores.queue import ScheduleQueue
    from bankupdate.stores.updates import UpdateRepository
    from bankupdate.stores.users import UserRepository
    from bankupdate.stores.workflow import WorkflowGateway


def utc_now() -> datetime:
    return datetime.now(UTC)


class Services:
    def __init__(
        self,
        settings: Settings,
        clock: Callable[[], datetime] = utc_now,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.settings = settings
        self.clock = clock
        self.sleep = sleep

    @cached_property
    def updates(self) -> UpdateRepository:
        from bankupdate.stores.updates import UpdateRepository

        return UpdateRepository(self.settings.table_name, timedelta(days=self.settings.update_retention_days))

    @cached_property
    def connections(self) -> ConnectionRepository:
        from bankupdate.stores.connections import ConnectionRepository

        return ConnectionRepository(self.settings.table_name)

    @cached_property
    def schedules(self) -> ScheduleRepository:
        from bankupdate.stores.connections import ScheduleRepository

        return ScheduleRepository(self.settings.table_name, self.settings.schedule_shards)

    @cached_property
    def users(self) -> UserRepository:
        from bankupdate.stores.users import PasswordVault, UserRepository

        return UserRepository(self.settings.table_name, PasswordVault(self.settings.kms_key_id))

    @cached_property
    def finapi(self) -> FinapiClient:
        from bankupdate.finapi import ApiVersion, FinapiClient
        from bankupdate.stores.secrets import load_finapi_client_credentials

        credentials = load_finapi_client_credentials(self.settings.finapi_client_secret_id)
        return FinapiClient(
            base_url=self.settings.finapi_base_url,
            client_id=credentials.clientId,
            client_secret=credentials.clientSecret.get_secret_value(),
            api_version=ApiVersion(self.settings.finapi_api_version),
            timeout_seconds=self.settings.finapi_timeout_seconds,
        )

    @cached_property
    def workflow(self) -> WorkflowGateway:
        from bankupdate.stores.workflow import WorkflowGateway

        return WorkflowGateway(self.settings.state_machine_arn)

    @cached_property
    def events(self) -> EventPublisher:
        from bankupdate.stores.events import EventPublisher

        return EventPublisher(self.settings.event_bus_name, self.settings.event_source)

    @cached_property
    def queue(self) -> ScheduleQueue:
        from bankupdate.stores.queue import ScheduleQueue

        return ScheduleQueue(self.settings.schedule_queue_url)

    @cached_property
    def budget(self) -> UnattendedBudget:
        return UnattendedBudget(
            self.settings.unattended_daily_limit, self.settings.unattended_reserve, self.settings.budget_time_zone
        )
