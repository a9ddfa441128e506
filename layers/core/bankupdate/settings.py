"""The one settings model, read from the environment once per process (the template sets every variable)."""

from __future__ import annotations

import math
import os
from functools import cached_property, lru_cache
from typing import Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from bankupdate.domain.backoff import COOL_DOWN_SECONDS, MIN_GAP_SECONDS, LoopCost, LoopLimits, PollSchedule
from bankupdate.domain.budget import UnattendedBudget
from bankupdate.domain.lifecycle import Timing
from bankupdate.domain.model import Integration
from bankupdate.domain.pacing import Pacing
from bankupdate.domain.redelivery import ThrottledRetry
from bankupdate.domain.urls import RedirectAllowList

# Finalize is retried with backoff for up to about this long before the workflow gives up (the ASL's Retry).
FINALIZE_RETRY_SECONDS = 600


class Settings(BaseModel):
    model_config = ConfigDict(frozen=True, populate_by_name=True, extra="ignore")

    stage: str = Field("dev", alias="STAGE")
    table_name: str = Field(alias="TABLE_NAME", min_length=1)
    idempotency_table_name: str = Field("", alias="IDEMPOTENCY_TABLE_NAME")
    event_bus_name: str = Field(alias="EVENT_BUS_NAME", min_length=1)
    state_machine_arn: str = Field(alias="STATE_MACHINE_ARN", pattern=r"^arn:[\w-]+:states:")
    password_key_id: str = Field("", alias="PASSWORD_KEY_ID")
    finapi_base_url: str = Field(alias="FINAPI_BASE_URL", pattern=r"^https?://")
    finapi_api_version: Literal["V1", "V2"] = Field("V1", alias="FINAPI_API_VERSION")
    finapi_client_secret_id: str = Field("", alias="FINAPI_CLIENT_SECRET_ID")
    # Each finAPI request waits at most the connect plus the read timeout, and one use case run at most the budget
    # for all its requests, retries and token fetches together (finapi/budget.py, decision D27). Each function's
    # Lambda timeout leaves room for its budget and its AWS calls (tests/template/test_timing.py).
    finapi_timeout_seconds: float = Field(30.0, alias="FINAPI_TIMEOUT_SECONDS", gt=0, le=120)
    finapi_connect_timeout_seconds: float = Field(3.0, alias="FINAPI_CONNECT_TIMEOUT_SECONDS", gt=0, le=30)
    finapi_budget_seconds: float = Field(40.0, alias="FINAPI_BUDGET_SECONDS", gt=0, le=900)

    integration: Integration = Field(Integration.ACCESS, alias="INTEGRATION")
    webform_base_url: str = Field("", alias="WEBFORM_BASE_URL")
    # Where finAPI's Web Form 2.0 callbacks reach our HTTP API: read from this SSM parameter (the API's URL is only
    # known once the stack exists, and a function naming the API would make a dependency cycle in the template).
    api_url_parameter: str = Field("", alias="API_URL_PARAMETER")

    update_deadline_seconds: int = Field(900, alias="UPDATE_DEADLINE_SECONDS", ge=1, le=3600)
    auth_window_seconds: int = Field(600, alias="AUTH_WINDOW_SECONDS", ge=1, le=3600)
    max_auth_rounds: int = Field(10, alias="MAX_AUTH_ROUNDS", ge=1, le=50)
    # The polls: the next one after ``lag_ratio`` of the time the update has run (within min/max gap; a Wait state
    # counts whole seconds, and finAPI asks for at most one read per second). Gaps up to the break-even of LoopCost
    # are waited in the Express poll loop, longer ones by the Standard workflow (decision D26).
    poll_lag_ratio: float = Field(0.12, alias="POLL_LAG_RATIO", ge=0, le=1)
    poll_min_gap_seconds: float = Field(1, alias="POLL_MIN_GAP_SECONDS", ge=MIN_GAP_SECONDS, le=300)
    poll_max_gap_seconds: float = Field(300, alias="POLL_MAX_GAP_SECONDS", gt=0, le=3600)
    # An Express execution runs at most five minutes (AWS's limit); a loop hands on to a fresh one before a Wait and
    # one more poll (the poll function's timeout, times its attempts, plus the retries' delays) could pass it.
    poll_loop_max_seconds: int = Field(300, alias="POLL_LOOP_MAX_SECONDS", ge=5, le=300)
    poll_reserve_seconds: int = Field(130, alias="POLL_RESERVE_SECONDS", ge=1, le=290)
    # What a poll that Lambda refuses adds to a loop's silence: the Poll state's retry delays, the hand-on to a fresh
    # loop (its retries) and the CoolDown gap waited there (tests/template/test_durations.py holds it to
    # poll_loop.asl.json); a loop's sign of life leaves room for it (D36).
    poll_cool_down_silence_seconds: int = Field(40, alias="POLL_COOL_DOWN_SILENCE_SECONDS", ge=1, le=300)
    poll_cool_down_seconds: int = Field(COOL_DOWN_SECONDS, alias="POLL_COOL_DOWN_SECONDS", ge=1, le=300)
    # Gaps longer than this are waited by the Standard workflow rather than in the Express loop. Unset: the
    # break-even of the list prices (``LoopCost``, ~73 s); a deployment with other prices may set its own.
    poll_hand_over_gap_seconds: float | None = Field(None, alias="POLL_HAND_OVER_GAP_SECONDS", ge=1, le=3600)
    # Web Form 2.0 reports the end by callback: a long wait waits for it, with a poll after this share of the
    # update's age as the fallback for a lost one; a wait for the user in finAPI's web form polls this often.
    webform_fallback_ratio: float = Field(0.5, alias="WEBFORM_FALLBACK_RATIO", ge=0, le=5)
    webform_fallback_min_gap_seconds: float = Field(5.0, alias="WEBFORM_FALLBACK_MIN_GAP_SECONDS", gt=0, le=300)
    webform_user_fallback_seconds: int = Field(60, alias="WEBFORM_USER_FALLBACK_SECONDS", ge=1, le=3600)
    decoupled_min_interval_seconds: float = Field(5.0, alias="DECOUPLED_MIN_INTERVAL_SECONDS", ge=0, le=60)
    orphan_grace_seconds: int = Field(120, alias="ORPHAN_GRACE_SECONDS", ge=0, le=3600)
    heartbeat_grace_seconds: int = Field(30, alias="HEARTBEAT_GRACE_SECONDS", ge=1, le=600)
    update_retention_days: int = Field(30, alias="UPDATE_RETENTION_DAYS", ge=1, le=3650)
    # How long a connection's change log keeps what each update brought: a sync cursor older than this is expired.
    changes_retention_days: int = Field(30, alias="CHANGES_RETENTION_DAYS", ge=1, le=365)
    cursor_key_secret_id: str = Field("", alias="CURSOR_KEY_SECRET_ID")  # the key that signs sync cursors
    idempotency_ttl_seconds: int = Field(3600, alias="IDEMPOTENCY_TTL_SECONDS", ge=60, le=86400)
    # At most 50: the one write that counts a trigger shifts that many slots of the log (DynamoDB expressions: 4 KB).
    user_updates_per_window: int = Field(5, alias="USER_UPDATES_PER_WINDOW", ge=1, le=50)
    user_update_window_seconds: int = Field(600, alias="USER_UPDATE_WINDOW_SECONDS", ge=10, le=86400)
    # Comma-separated return addresses (domain.urls.RedirectAllowList): origins, or origins with a path.
    allowed_redirect_urls: str = Field("", alias="ALLOWED_REDIRECT_URLS")

    unattended_daily_limit: int = Field(4, alias="UNATTENDED_DAILY_LIMIT", ge=0, le=100)
    unattended_reserve: int = Field(0, alias="UNATTENDED_RESERVE", ge=0, le=100)
    budget_time_zone: str = Field("Europe/Berlin", alias="BUDGET_TIME_ZONE")

    event_source: str = Field("finapi.bank-update", alias="EVENT_SOURCE", min_length=1)

    schedule_queue_url: str = Field("", alias="SCHEDULE_QUEUE_URL")
    # A scheduled start calls finAPI: one that might not finish in the invocation's remaining time waits in its queue.
    start_reserve_seconds: int = Field(60, alias="START_RESERVE_SECONDS", ge=1, le=900)
    # A scheduled start AWS refused for rate comes back after a delay that doubles from this, at most the max
    # (domain/redelivery.py, D39): sooner than the queue's visibility timeout, and spread.
    throttled_start_retry_seconds: int = Field(60, alias="THROTTLED_START_RETRY_SECONDS", ge=1, le=43200)
    throttled_start_retry_max_seconds: int = Field(720, alias="THROTTLED_START_RETRY_MAX_SECONDS", ge=1, le=43200)
    schedule_interval_minutes: int = Field(360, alias="SCHEDULE_INTERVAL_MINUTES", ge=15, le=7 * 24 * 60)
    schedule_shards: int = Field(4, alias="SCHEDULE_SHARDS", ge=1, le=64)
    # The scheduled path's drain rate (domain/pacing.py): a run queues one scheduler period of due connections at
    # this rate, each held back by its place, so a night of scheduled starts leaves the users their share.
    scheduled_starts_per_second: float = Field(50.0, alias="SCHEDULED_STARTS_PER_SECOND", gt=0, le=1000)
    schedule_expression: str = Field("rate(15 minutes)", alias="SCHEDULE_EXPRESSION", min_length=1)
    consent_warning_days: int = Field(7, alias="CONSENT_WARNING_DAYS", ge=1, le=60)

    @field_validator("budget_time_zone")
    @classmethod
    def _known_time_zone(cls, value: str) -> str:
        ZoneInfo(value)  # raises for an unknown zone: fail at cold start, not at the first scheduled run
        return value

    @field_validator("allowed_redirect_urls")
    @classmethod
    def _redirect_entries(cls, value: str) -> str:
        RedirectAllowList.parse(value)  # raises for an entry that is not one: fail at cold start, not at a user's tap
        return value

    @model_validator(mode="after")
    def _gaps_in_order(self) -> Settings:
        if self.poll_max_gap_seconds < self.poll_min_gap_seconds:
            raise ValueError("POLL_MAX_GAP_SECONDS must not be below POLL_MIN_GAP_SECONDS")
        if self.throttled_start_retry_max_seconds < self.throttled_start_retry_seconds:
            raise ValueError("THROTTLED_START_RETRY_MAX_SECONDS must not be below THROTTLED_START_RETRY_SECONDS")
        return self

    # ------------------------------------------------------------------------------------------ derived

    @property
    def timing(self) -> Timing:
        return Timing(self.update_deadline_seconds, self.auth_window_seconds, self.max_auth_rounds)

    @property
    def poll_schedule(self) -> PollSchedule:
        return PollSchedule(self.poll_lag_ratio, self.poll_min_gap_seconds, self.poll_max_gap_seconds)

    @property
    def callback_fallback_schedule(self) -> PollSchedule | None:
        """Web Form 2.0: how long a wait for finAPI's callback lasts before it polls anyway (None: no callbacks)."""
        if self.integration is not Integration.WEB_FORM:
            return None
        low = self.webform_fallback_min_gap_seconds
        return PollSchedule(self.webform_fallback_ratio, low, max(low, self.poll_max_gap_seconds))

    @property
    def hand_over_gap_seconds(self) -> float:
        configured = self.poll_hand_over_gap_seconds
        return configured if configured is not None else LoopCost().break_even_gap_seconds()

    @property
    def loop_limits(self) -> LoopLimits:
        return LoopLimits(self.poll_loop_max_seconds, self.poll_reserve_seconds)

    @property
    def poll_heartbeat_seconds(self) -> int:
        """How long the Poll task waits for a sign of life from its loop (how soon a dead loop is found): its longest
        gap and one poll (retries included), twice over, and a grace (436 s at the defaults)."""
        longest_gap = min(self.poll_max_gap_seconds, self.hand_over_gap_seconds)
        return math.ceil(2 * (longest_gap + self.poll_reserve_seconds) + self.heartbeat_grace_seconds)

    @property
    def poll_sign_of_life_seconds(self) -> float:
        """A loop sends a sign of life only once its silence plus the gap it is about to wait would reach this
        (D36): what is left of the heartbeat still holds the poll after that gap with every attempt, a cool-down
        before it and the grace for the sign itself (236 s at the defaults; at half the heartbeat, as before D36, a
        ten-minute download sent three signs, now two)."""
        return (
            self.poll_heartbeat_seconds
            - self.poll_reserve_seconds
            - self.poll_cool_down_silence_seconds
            - self.heartbeat_grace_seconds
        )

    @property
    def await_user_seconds(self) -> int:
        """A wait for the user polls after this: in Web Form 2.0 mode the fallback for a lost callback; with the
        Access update endpoint the user's answer always comes through our API, and the whole update bounds it."""
        if self.integration is Integration.WEB_FORM:
            return self.webform_user_fallback_seconds
        return self.update_timeout_seconds

    @property
    def budget(self) -> UnattendedBudget:
        return UnattendedBudget(self.unattended_daily_limit, self.unattended_reserve, self.budget_time_zone)

    @property
    def throttled_retry(self) -> ThrottledRetry:
        return ThrottledRetry(self.throttled_start_retry_seconds, self.throttled_start_retry_max_seconds)

    @property
    def pacing(self) -> Pacing:
        return Pacing.of(self.scheduled_starts_per_second, self.schedule_expression)

    @property
    def heartbeat_seconds(self) -> int:
        """The longest the workflow waits for a sign of life: one authentication window (the user's time to answer)
        plus a grace, so that our own 410 for a late answer comes before the workflow gives up on the update."""
        return self.auth_window_seconds + self.heartbeat_grace_seconds

    @property
    def update_timeout_seconds(self) -> int:
        """The whole update: every authentication round it may have, then the download."""
        rounds = self.max_auth_rounds * (self.auth_window_seconds + self.heartbeat_grace_seconds)
        return rounds + self.update_deadline_seconds + self.orphan_grace_seconds

    @property
    def lock_lease_seconds(self) -> int:
        """A lock outlives the longest legitimate update and its Finalize retries, so only a crashed workflow ever
        lets one expire (and the stale-lock reconciler finds those long before)."""
        return self.update_timeout_seconds + FINALIZE_RETRY_SECONDS + 300

    @cached_property
    def redirect_allow_list(self) -> RedirectAllowList:
        return RedirectAllowList.parse(self.allowed_redirect_urls)


def get_settings() -> Settings:
    """The settings of the function this process serves, read from its environment once.

    Keyed by the function's name: in Lambda a process serves one function, so this is one entry; the local stack runs
    every function in one process, each with its own environment, and must not hand one function another's."""
    return _settings_of(os.environ.get("AWS_LAMBDA_FUNCTION_NAME"))


@lru_cache(maxsize=32)
def _settings_of(function_name: str | None) -> Settings:
    return Settings.model_validate(dict(os.environ))


def forget_settings() -> None:
    """Read the environment again on the next call (tests and the local stack start new environments)."""
    _settings_of.cache_clear()
