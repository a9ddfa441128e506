"""finAPI Web Form 2.0 client (its own host): create a background update task, read tasks and web forms.

It authenticates with the finAPI user's Access token. finAPI asks for at most one status call per second per task;
the client keeps to that itself, whatever the callers' pace.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

import httpx
from pydantic import BaseModel, ConfigDict, Field

from bankupdate.domain import errors
from bankupdate.finapi.budget import FinapiBudget
from bankupdate.finapi.errors import error_class_for_status
from bankupdate.finapi.models import FinapiDateTime

MIN_STATUS_INTERVAL_SECONDS = 1.0
# finAPI measures the gap between requests as they arrive; a read paced from here arrives a few milliseconds late or
# early depending on the connection, so the client keeps a little more than the minimum.
PACE_MARGIN_SECONDS = 0.05


class WebFormRef(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    id: str
    url: str
    status: str


class TaskPayload(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)

    bank_connection_id: int | None = Field(None, alias="bankConnectionId")
    web_form: WebFormRef | None = Field(None, alias="webForm")
    error_code: str | None = Field(None, alias="errorCode")


class Task(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    id: str
    status: str
    payload: TaskPayload = Field(default_factory=TaskPayload)


class WebFormPayload(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)

    error_code: str | None = Field(None, alias="errorCode")


class WebForm(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)

    id: str
    url: str
    status: str
    expires_at: FinapiDateTime | None = Field(None, alias="expiresAt")
    payload: WebFormPayload = Field(default_factory=WebFormPayload)


def error_for(response: httpx.Response) -> errors.BankUpdateError:
    try:
        body = response.json()
    except ValueError:
        body = {}
    code = str(body.get("code") or "") if isinstance(body, dict) else ""
    if code == "BANK_NOT_SUPPORTED":
        error_class: type[errors.BankUpdateError] = errors.BankUnsupported
    else:
        error_class = error_class_for_status(response.status_code)
    description = body.get("description") if isinstance(body, dict) else None
    return error_class(
        f"finAPI Web Form answered {response.status_code} {code or ''}: {description or 'no description'}".strip(),
        upstream_status=response.status_code,
        upstream_code=code or None,
        request_id=response.headers.get("X-Request-Id"),
    )


class WebFormClient:
    def __init__(
        self,
        *,
        base_url: str,
        user_token: Callable[[str], str],
        forget_user_token: Callable[[str], None],
        timeout_seconds: float = 30.0,
        connect_timeout_seconds: float = 5.0,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
        monotonic: Callable[[], float] = time.monotonic,
        budget: FinapiBudget | None = None,
    ) -> None:
        """``user_token(owner_id)``: the finAPI user's Access token (the Access client's token cache), and
        ``forget_user_token(owner_id)`` drops it from there; ``budget``: how long one use case run may wait for finAPI
        in all (shared with the Access client)."""
        self._token = user_token
        self._forget_token = forget_user_token
        self._sleep = sleep
        self._monotonic = monotonic  # the same clock as ``sleep``: a pace measured on one and waited on another drifts
        self._budget = budget
        self._read_timeout, self._connect_timeout = timeout_seconds, connect_timeout_seconds
        self._http = httpx.Client(
            base_url=base_url.rstrip("/"),
            timeout=httpx.Timeout(timeout_seconds, connect=connect_timeout_seconds, pool=connect_timeout_seconds),
            transport=transport,
            headers={"Accept": "application/json"},
        )
        self._last_look: dict[str, float] = {}
        self._pace = threading.Lock()

    @property
    def base_url(self) -> str:
        return str(self._http.base_url)

    def _send(self, owner_id: str, method: str, path: str, pace: str | None = None, **kwargs: Any) -> httpx.Response:
        """One request with the user's token; a 401 (the token expired or was revoked early: finAPI did nothing, so
        a retry is safe even for a new task) drops the token and tries once more with a new one."""
        response = self._send_once(owner_id, method, path, pace, **kwargs)
        if response.status_code == 401:
            self._forget_token(owner_id)
            response = self._send_once(owner_id, method, path, pace, **kwargs)
        return response

    def _send_once(self, owner_id: str, method: str, path: str, pace: str | None, **kwargs: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self._token(owner_id)}", "X-Request-Id": f"bankupdate-{uuid.uuid4()}"}
        if pace is not None:
            self._paced(pace)  # paced right before sending: a token fetch before it must not shorten the gap
        budget = self._budget
        try:
            if budget is None:
                return self._http.request(method, path, headers=headers, **kwargs)
            timeout = budget.timeout(connect=self._connect_timeout, read=self._read_timeout, what=f"{method} {path}")
            with budget.request():
                return self._http.request(method, path, headers=headers, timeout=timeout, **kwargs)
        except httpx.TransportError as error:
            raise errors.UpstreamUnavailable(f"finAPI Web Form unreachable: {type(error).__name__}") from None

    def _paced(self, key: str) -> None:
        with self._pace:
            last = self._last_look.get(key)
            now = self._monotonic()
            wait = 0.0 if last is None else MIN_STATUS_INTERVAL_SECONDS + PACE_MARGIN_SECONDS - (now - last)
            self._last_look[key] = now + max(0.0, wait)
        if wait > 0:
            if self._budget is not None:
                if not self._budget.allows_pause(wait):
                    raise errors.UpstreamUnavailable("finAPI time budget spent: no room for the next look")
                self._budget.spend(wait)
            self._sleep(wait)

    def create_background_update(self, owner_id: str, body: dict[str, Any]) -> Task:
        """Never retried: a lost answer may still have created the task (the caller treats it as unconfirmed)."""
        response = self._send(owner_id, "POST", "/api/tasks/backgroundUpdate", json=body)
        if response.status_code != 201:
            raise error_for(response)
        return Task.model_validate(response.json())

    def get_task(self, owner_id: str, task_id: str) -> Task:
        response = self._send(owner_id, "GET", f"/api/tasks/{task_id}", pace=f"task:{task_id}")
        if response.status_code != 200:
            raise error_for(response)
        return Task.model_validate(response.json())

    def get_web_form(self, owner_id: str, form_id: str) -> WebForm:
        response = self._send(owner_id, "GET", f"/api/webForms/{form_id}", pace=f"form:{form_id}")
        if response.status_code != 200:
            raise error_for(response)
        return WebForm.model_validate(response.json())
