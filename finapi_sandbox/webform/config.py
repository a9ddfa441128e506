"""The Web Form 2.0 simulator's knobs, as data (JSON under the scenario's `webform` key, or code)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from finapi_sandbox.config import HttpFault, StrictModel

CallbackKind = Literal["finalised", "webFormRequired"]


class CallbackPolicy(StrictModel):
    """How the next callbacks of a kind (or of every kind) are delivered: late, more than once, or not at all."""

    kind: CallbackKind | None = None  # None: every kind
    delay_seconds: float = Field(0.0, ge=0, le=600)
    copies: int = Field(1, ge=1, le=5)  # 2 = the same callback sent twice
    drop: bool = False  # lost: recorded as dropped, never sent
    times: int | None = Field(None, ge=1)  # applies to this many callbacks, then is used up; None: for good


class WebFormFault(HttpFault):
    """An injected fault on the Web Form API (500 is the one status its spec documents for it)."""


class WebFormConfig(StrictModel):
    # The mandator's licence decides the `redirectUrl` rule: required for FULLY_LICENSED and AISP, forbidden otherwise.
    license: Literal["UNLICENSED", "FULLY_LICENSED", "AISP"] = "UNLICENSED"
    # finAPI allows only https callback and redirect URLs. A local test stack listens on plain http on loopback, so the
    # sandbox accepts http://127.0.0.1, http://localhost and http://[::1] URLs only when this is switched on.
    allow_http_loopback_urls: bool = False
    # "Web Form URLs are valid for just 20 minutes" (finAPI, Web Form 2.0 Basics).
    web_form_ttl_seconds: float = Field(1200.0, gt=0)
    # The web forms' URL as finAPI names it, "{id}" standing for the form's id (None: this server's /wf/{id}).
    # Anything goes, e.g. "javascript:alert(1)//{id}": a finAPI answering hostile URLs, for tests that clients never
    # make them links (the form itself stays at /wf/{id}).
    web_form_url: str | None = Field(None, max_length=2048)
    # A new task waits this long in NOT_YET_STARTED before the background attempt starts.
    task_start_seconds: float = Field(0.1, ge=0)
    # "at most, once a second" (finAPI, For best results!): closer polls of one task or web form are recorded.
    min_poll_interval_seconds: float = Field(1.0, ge=0)
    # How often the web form reads the connection from Access while its download runs.
    access_poll_seconds: float = Field(0.2, gt=0)
    # finAPI suggests asking about a decoupled approval every 5 seconds at most (Access spec, MultiStepAuthentication-
    # Callback.decoupledCallback); the web form keeps to this however often its page refreshes.
    decoupled_poll_seconds: float = Field(5.0, ge=0)
    # How often the decoupled and download pages refresh themselves.
    page_refresh_seconds: int = Field(1, ge=1)
    # Seconds the final page shows before sending the browser to the `redirectUrl` given with the web form URL.
    final_redirect_seconds: int = Field(1, ge=0)
    callback_timeout_seconds: float = Field(5.0, gt=0)
    callback_policies: list[CallbackPolicy] = []
    profile_ids: list[str] = []  # white-label profiles that exist (any other `profileId` is 404)
    unsupported_banks: list[str] = []  # BLZs whose connections get 422 BANK_NOT_SUPPORTED
    mandator_misconfigured: bool = False  # every create gets 422 MANDATOR_MISCONFIGURATION
    faults: list[WebFormFault] = []
