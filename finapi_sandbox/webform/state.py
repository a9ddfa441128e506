"""What the Web Form simulator keeps: tasks, their web forms and each web form's session with the user's browser.

A task's fields change only under its own lock; the registry lock guards only the dictionaries. Bank credentials and
TANs are never kept: a PIN the user types lives only as long as the Access call it goes into.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from finapi_sandbox.webform.requests import TaskDetails

TaskStatus = Literal["NOT_YET_STARTED", "IN_PROGRESS", "WEB_FORM_REQUIRED", "COMPLETED", "COMPLETED_WITH_ERROR"]
WebFormStatus = Literal["NOT_YET_OPENED", "IN_PROGRESS", "COMPLETED", "COMPLETED_WITH_ERROR", "EXPIRED", "ABORTED"]
TaskErrorCode = Literal["BANK_SERVER_REJECTION", "INTERNAL_ERROR", "INVALID_TOKEN", "UNEXPECTED_ACCESS_RESPONSE"]
# One page per step; the first five wait for the user, `downloading` for the bank, the rest are final.
Step = Literal[
    "start",
    "credentials",
    "procedure",
    "challenge",
    "decoupled",
    "redirect",
    "downloading",
    "completed",
    "failed",
    "aborted",
    "expired",
]
FINAL_TASK_STATUSES = ("COMPLETED", "COMPLETED_WITH_ERROR")
FINAL_WEB_FORM_STATUSES = ("COMPLETED", "COMPLETED_WITH_ERROR", "EXPIRED", "ABORTED")
USER_STEPS = ("start", "credentials", "procedure", "challenge", "decoupled", "redirect")


@dataclass
class Challenge:
    """The bank's current question, from Access's last 510 answer."""

    hash: str
    status: str
    message: str | None = None
    answer_label: str | None = None
    procedures: list[dict[str, Any]] = field(default_factory=list)
    redirect_url: str | None = None
    redirect_context: str | None = None
    photo_mime_type: str | None = None
    photo_data: str | None = None
    optical_data: str | None = None


@dataclass
class WebForm:
    id: str
    url: str
    created_at: datetime
    expires_at: datetime
    status: WebFormStatus = "NOT_YET_OPENED"
    error_code: TaskErrorCode | None = None
    step: Step = "start"
    session: str | None = None  # the browser that opened it holds this in a cookie
    csrf: str | None = None
    challenge: Challenge | None = None
    notice: str | None = None  # a message for the next page (wrong TAN, bank's answer)
    redirect_url: str | None = None  # given with the web form URL: where to send the user after success
    error_redirect_url: str | None = None
    customer_support_url: str | None = None
    psu: dict[str, str] = field(default_factory=dict)  # the browser's metadata, sent to Access as PSU headers
    update_accepted: bool = False
    last_decoupled_poll: datetime | None = None


@dataclass
class Task:
    id: str
    owner: str
    token: str  # the user's Access token the task was created with; the flow uses it against Access
    connection_id: int
    details: TaskDetails
    created_at: datetime
    bank_blz: str
    bank_name: str
    redirect_bank: bool
    primary_interface: str
    stored_pin: bool
    status: TaskStatus = "NOT_YET_STARTED"
    error_code: TaskErrorCode | None = None
    web_form: WebForm | None = None
    downloading: bool = False  # Access accepted the update; waiting for updateStatus READY
    next_access_poll: datetime | None = None
    forced_error: TaskErrorCode | None = None
    finished_at: datetime | None = None
    lock: threading.RLock = field(default_factory=threading.RLock, repr=False)

    @property
    def final(self) -> bool:
        return self.status in FINAL_TASK_STATUSES


@dataclass(frozen=True)
class CallbackRecord:
    """One callback as the simulator handled it: sent (with the receiver's status or the error) or dropped."""

    kind: str
    task_id: str
    url: str
    body: dict[str, Any]
    at: datetime
    dropped: bool
    status: int | None
    error: str | None


@dataclass(frozen=True)
class PollViolation:
    """Two reads of one task or web form closer together than finAPI allows."""

    path: str
    gap_seconds: float
    at: datetime
