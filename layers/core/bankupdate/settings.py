"""The one settings model, read from the environment once per process (the template sets every variable)."""

from __future__ import annotations

import os
from functools import lru_cache
from typing import Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator


class Settings(BaseModel):
    model_config = ConfigDict(frozen=True, populate_by_name=True, extra="ignore")

    stage: str = Field("dev", alias="STAGE")
    table_name: str = Field(alias="TABLE_NAME", min_length=1)
    idempotency_table_name: str = Field(alias="IDEMPOTENCY_TABLE_NAME", min_length=1)
    event_bus_name: str = Field(alias="EVENT_BUS_NAME", min_length=1)
    state_machine_arn: str = Field(alias="STATE_MACHINE_ARN", pattern=r"^arn:[\w-]+:states:")
    kms_key_id: str = Field(alias="KMS_KEY_ID", min_length=1)
    finapi_base_url: str = Field(alias="FINAPI_BASE_URL", pattern=r"^https?://")
    finapi_api_version: Literal["V1", "V2"] = Field("V1", alias="FINAPI_API_VERSION")
    finapi_client_secret_id: str = Field(alias="FINAPI_CLIENT_SECRET_ID", min_length=1)
    finapi_timeout_seconds: float = Field(30.0, alias="FINAPI_TIMEOUT_SECONDS", gt=0, le=120)

    update_deadline_seconds: int = Field(900, alias="UPDATE_DEADLINE_SECONDS", ge=1, le=3600)
    auth_window_seconds: int = Field(600, alias="AUTH_WINDOW_SECONDS", ge=1, le=3600)
    # The poll loop: the next look after ``lag_ratio`` of the time the update has run (within min/max gap). Gaps
    # below the break-even of WaitCost are slept in the poll invocation; POLL_INLINE_MAX_GAP_SECONDS overrides that
    # (0 = every gap in a Wait state, e.g. where Lambda concurrency is scarce).
    poll_lag_ratio: float = Field(0.12, alias="POLL_LAG_RATIO", ge=0, le=1)
    poll_min_gap_seconds: float = Field(0.5, alias="POLL_MIN_GAP_SECONDS", gt=0, le=300)
    poll_max_gap_seconds: float = Field(300, alias="POLL_MAX_GAP_SECONDS", gt=0, le=3600)
    poll_inline_max_gap_seconds: float | None = Field(None, alias="POLL_INLINE_MAX_GAP_SECONDS", ge=0, le=600)
    decoupled_min_interval_seconds: float = Field(5.0, alias="DECOUPLED_MIN_INTERVAL_SECONDS", ge=0, le=60)
    orphan_grace_seconds: int = Field(120, alias="ORPHAN_GRACE_SECONDS", ge=0, le=3600)
    answer_wait_seconds: float = Field(3.0, alias="ANSWER_WAIT_SECONDS", ge=0, le=20)
    update_retention_days: int = Field(30, alias="UPDATE_RETENTION_DAYS", ge=1, le=3650)
    idempotency_ttl_seconds: int = Field(3600, alias="IDEMPOTENCY_TTL_SECONDS", ge=60, le=86400)

    unattended_daily_limit: int = Field(4, alias="UNATTENDED_DAILY_LIMIT", ge=0, le=100)
    unattended_reserve: int = Field(0, alias="UNATTENDED_RESERVE", ge=0, le=100)
    budget_time_zone: str = Field("Europe/Berlin", alias="BUDGET_TIME_ZONE")

    event_source: str = Field("finapi.bank-update", alias="EVENT_SOURCE", min_length=1)

    schedule_queue_url: str = Field("", alias="SCHEDULE_QUEUE_URL")
    schedule_interval_minutes: int = Field(360, alias="SCHEDULE_INTERVAL_MINUTES", ge=15, le=7 * 24 * 60)
    schedule_shards: int = Field(4, alias="SCHEDULE_SHARDS", ge=1, le=64)
    consent_warning_days: int = Field(7, alias="CONSENT_WARNING_DAYS", ge=1, le=60)

    @field_validator("budget_time_zone")
    @classmethod
    def _known_time_zone(cls, value: str) -> str:
        ZoneInfo(value)  # raises for an unknown zone: fail at cold start, not at the first scheduled run
        return value

    @model_validator(mode="after")
    def _gaps_in_order(self) -> Settings:
        if self.poll_max_gap_seconds < self.poll_min_gap_seconds:
            raise ValueError("POLL_MAX_GAP_SECONDS must not be below POLL_MIN_GAP_SECONDS")
        return self

    @property
    def lock_lease_seconds(self) -> int:
        """A lock outlives the longest legitimate update, so only a crashed workflow ever lets one expire."""
        return self.update_deadline_seconds + 10 * self.auth_window_seconds + 300


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings.model_validate(dict(os.environ))
