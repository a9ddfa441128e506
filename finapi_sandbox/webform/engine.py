"""Tasks from creation to a final status: the background attempt, the hand-over to a web form, the download, expiry.

Time is the Access world's clock (so `/sandbox/clock` on the Access port moves web form expiry too). The ticker
(`ticker.py`) advances every open task; each step runs under the task's own lock.
"""

from __future__ import annotations

import secrets
import threading
import uuid
from collections import Counter
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, Literal

from finapi_sandbox.webform import render
from finapi_sandbox.webform.access import (
    NEEDS_USER,
    AccessAnswer,
    AccessClient,
    failure_code,
    last_manual_result,
    request_id,
    update_body,
)
from finapi_sandbox.webform.callbacks import CallbackDispatcher
from finapi_sandbox.webform.config import WebFormConfig
from finapi_sandbox.webform.problems import WebFormProblem
from finapi_sandbox.webform.requests import TaskDetails
from finapi_sandbox.webform.state import (
    FINAL_WEB_FORM_STATUSES,
    USER_STEPS,
    PollViolation,
    Step,
    Task,
    TaskErrorCode,
    WebForm,
    WebFormStatus,
)
from finapi_sandbox.webform.ticker import Ticker

FINAL_STEPS: dict[WebFormStatus, Step] = {
    "ABORTED": "aborted",
    "EXPIRED": "expired",
    "COMPLETED": "completed",
    "COMPLETED_WITH_ERROR": "failed",
    "NOT_YET_OPENED": "failed",
    "IN_PROGRESS": "failed",
}
FinalTaskStatus = Literal["COMPLETED", "COMPLETED_WITH_ERROR"]


class WebFormEngine:
    def __init__(
        self,
        config: WebFormConfig,
        access: AccessClient,
        callbacks: CallbackDispatcher,
        now: Callable[[], datetime],
    ) -> None:
        self.config = config
        self.access = access
        self.callbacks = callbacks
        self.now = now
        self.base_url = ""
        self._lock = threading.RLock()
        self._ticker = Ticker(self._open_tasks, self.advance)
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self.tasks: dict[str, Task] = {}
            self.web_forms: dict[str, Task] = {}
            self.redirect_contexts: dict[str, str] = {}  # bank `state` -> web form id
            self.forced_errors: dict[int, TaskErrorCode] = {}
            self.poll_violations: list[PollViolation] = []
            self.reads: Counter[str] = Counter()  # polls of each task or web form, by path
            self._last_poll: dict[tuple[str, str], datetime] = {}
        self.callbacks.clear()

    # ------------------------------------------------------------------------------------------------ creation

    def create_task(self, token: str, owner: str, details: TaskDetails) -> Task:
        if self.config.mandator_misconfigured:
            raise WebFormProblem(422, "MANDATOR_MISCONFIGURATION", "The mandator is not configured for Web Form 2.0.")
        if details.profileId is not None and details.profileId not in self.config.profile_ids:
            raise WebFormProblem(404, "NOT_FOUND", f"Profile {details.profileId} not found.")
        connection = self._read_connection(token, details.bankConnectionId)
        bank = connection["bank"]
        if bank["blz"] in self.config.unsupported_banks:
            raise WebFormProblem(422, "BANK_NOT_SUPPORTED", f"Bank {bank['blz']} is no longer supported by Access.")
        interface = connection["interfaces"][0]
        properties = {p for i in bank["interfaces"] for p in i["properties"]}
        stored_pin = any(c["label"] == "PIN" and c["value"] for c in interface["loginCredentials"])
        with self._lock:
            busy = any(t.connection_id == details.bankConnectionId and not t.final for t in self.tasks.values())
            if busy or connection["updateStatus"] == "IN_PROGRESS":
                raise WebFormProblem(
                    423, "LOCKED", f"Bank connection {details.bankConnectionId} is currently being updated."
                )
            task = Task(
                id=str(uuid.uuid4()),
                owner=owner,
                token=token,
                connection_id=details.bankConnectionId,
                details=details,
                created_at=self.now(),
                bank_blz=bank["blz"],
                bank_name=bank["name"],
                redirect_bank="REDIRECT_APPROACH" in properties,
                primary_interface=interface["interface"],
                stored_pin=stored_pin,
                forced_error=self.forced_errors.pop(details.bankConnectionId, None),
            )
            self.tasks[task.id] = task
            return task

    def _read_connection(self, token: str, connection_id: int) -> dict[str, Any]:
        answer = self.access.get_connection(token, connection_id, f"webform-create-{secrets.token_hex(4)}")
        if answer.status == 200 and isinstance(answer.body, dict):
            return answer.body
        if answer.status == 401:
            raise WebFormProblem(401, "UNAUTHORIZED", "The access token is invalid.")
        if answer.status == 403:
            raise WebFormProblem(403, "FORBIDDEN", "The access token has no access to this bank connection.")
        if answer.status in (400, 404):
            raise WebFormProblem(404, "NOT_FOUND", f"Bank connection {connection_id} not found.")
        raise WebFormProblem(500, "INTERNAL_SERVER_ERROR", "Access answered unexpectedly.")

    # ------------------------------------------------------------------------------------------------ reads

    def task_of(self, owner: str, task_id: str) -> Task | None:
        with self._lock:
            task = self.tasks.get(task_id)
        return task if task is not None and task.owner == owner else None

    def web_form_of(self, owner: str, web_form_id: str) -> Task | None:
        with self._lock:
            task = self.web_forms.get(web_form_id)
        return task if task is not None and task.owner == owner else None

    def task_by_web_form(self, web_form_id: str) -> Task | None:
        with self._lock:
            return self.web_forms.get(web_form_id)

    def task_by_redirect_context(self, context: str) -> Task | None:
        with self._lock:
            web_form_id = self.redirect_contexts.get(context)
            return self.web_forms.get(web_form_id) if web_form_id else None

    def remember_redirect_context(self, context: str, web_form: WebForm) -> None:
        with self._lock:
            self.redirect_contexts[context] = web_form.id

    def record_poll(self, principal: str, path: str) -> None:
        """finAPI asks for at most one poll a second; closer polls are recorded (not refused: the spec has no 429)."""
        now = self.now()
        with self._lock:
            self.reads[path] += 1
            last = self._last_poll.get((principal, path))
            self._last_poll[(principal, path)] = now
            if last is not None and (now - last).total_seconds() < self.config.min_poll_interval_seconds:
                self.poll_violations.append(PollViolation(path, (now - last).total_seconds(), now))

    def force_error(self, connection_id: int, error_code: TaskErrorCode) -> None:
        """The next task of this connection ends COMPLETED_WITH_ERROR with this code, without calling Access."""
        with self._lock:
            self.forced_errors[connection_id] = error_code

    # ------------------------------------------------------------------------------------------------ progress

    def advance(self, task: Task) -> None:
        """One step of whatever the task waits for, if it is due."""
        with task.lock:
            if task.final:
                return
            now = self.now()
            if task.status == "NOT_YET_STARTED":
                if now >= task.created_at + timedelta(seconds=self.config.task_start_seconds):
                    task.status = "IN_PROGRESS"
                    self._attempt_in_background(task)
            elif task.downloading:
                if task.next_access_poll is None or now >= task.next_access_poll:
                    self.check_download(task)
            else:
                self.expire_if_due(task)

    def expire_if_due(self, task: Task) -> None:
        """A web form still waiting for the user when its time is up expires (and the task ends with it)."""
        web_form = task.web_form
        if web_form is not None and web_form.step in USER_STEPS and self.now() >= web_form.expires_at:
            self.finish_web_form(task, "EXPIRED", None)

    def _attempt_in_background(self, task: Task) -> None:
        if task.forced_error is not None:
            self.finish(task, "COMPLETED_WITH_ERROR", task.forced_error)
            return
        if task.details.manageSavedSettings:
            self.require_web_form(task)  # the user is to see and change saved settings: always a web form
            return
        metadata = task.details.userMetadata
        answer = self.update(task, metadata.model_dump() if metadata is not None else {})
        if answer.status == 200:
            self.start_download(task)
        elif answer.status == 510 or (answer.status == 422 and answer.error_code in NEEDS_USER):
            self.require_web_form(task)
        else:
            self.finish(task, "COMPLETED_WITH_ERROR", failure_code(answer))

    def update(self, task: Task, psu: dict[str, str], **extra: Any) -> AccessAnswer:
        """The task's update call to Access, with the user's PSU headers when they are there and ``extra`` fields."""
        body = update_body(task, f"{self.base_url}/callback", **extra)
        return self.access.update(task.token, body, psu, request_id(task))

    def require_web_form(self, task: Task) -> None:
        now = self.now()
        web_form_id = str(uuid.uuid4())
        task.web_form = WebForm(
            id=web_form_id,
            url=(self.config.web_form_url or f"{self.base_url}/wf/{{id}}").replace("{id}", web_form_id),
            created_at=now,
            expires_at=now + timedelta(seconds=self.config.web_form_ttl_seconds),
        )
        task.status = "WEB_FORM_REQUIRED"
        with self._lock:
            self.web_forms[web_form_id] = task
        callbacks = task.details.callbacks
        self.callbacks.send(
            "webFormRequired", callbacks.webFormRequired if callbacks else None, task.id, render.task_callback(task)
        )

    def start_download(self, task: Task) -> None:
        task.downloading = True
        task.next_access_poll = self.now()
        if task.web_form is not None:
            task.web_form.step = "downloading"
            task.web_form.update_accepted = True

    def check_download(self, task: Task) -> None:
        answer = self.access.get_connection(task.token, task.connection_id, request_id(task))
        if answer.status == 200 and isinstance(answer.body, dict):
            if answer.body.get("updateStatus") != "READY":
                task.next_access_poll = self.now() + timedelta(seconds=self.config.access_poll_seconds)
                return
            result = last_manual_result(answer.body, task.primary_interface)
            if result == "OK":
                self.finish(task, "COMPLETED", None)
            else:
                code: TaskErrorCode = "BANK_SERVER_REJECTION" if result == "BANK_SERVER_REJECTION" else "INTERNAL_ERROR"
                self.finish(task, "COMPLETED_WITH_ERROR", code)
        elif answer.status == 0 or answer.status >= 500:
            task.next_access_poll = self.now() + timedelta(seconds=self.config.access_poll_seconds)  # try again
        else:
            self.finish(task, "COMPLETED_WITH_ERROR", failure_code(answer))

    # ------------------------------------------------------------------------------------------------ endings

    def finish(self, task: Task, status: FinalTaskStatus, error_code: TaskErrorCode | None) -> None:
        """The task reaches its final status; an open web form ends with it."""
        web_form = task.web_form
        if web_form is not None and web_form.status not in FINAL_WEB_FORM_STATUSES:
            web_form.status = "COMPLETED" if status == "COMPLETED" else "COMPLETED_WITH_ERROR"
            web_form.error_code = error_code
            web_form.step = "completed" if status == "COMPLETED" else "failed"
        task.status = status
        task.error_code = error_code
        task.finished_at = self.now()
        task.downloading = False
        callbacks = task.details.callbacks
        self.callbacks.send(
            "finalised", callbacks.finalised if callbacks else None, task.id, render.task_callback(task)
        )

    def finish_web_form(self, task: Task, status: WebFormStatus, error_code: TaskErrorCode | None) -> None:
        """The web form ends first (aborted, expired, refused by the bank); the task ends with it.

        finAPI does not document the task's status after an aborted or expired web form; the sandbox ends the task
        COMPLETED_WITH_ERROR without an errorCode, and the web form's status (in the task's payload) says why.
        """
        web_form = task.web_form
        assert web_form is not None
        web_form.status = status
        web_form.error_code = error_code if status == "COMPLETED_WITH_ERROR" else None
        web_form.step = FINAL_STEPS[status]
        self.finish(task, "COMPLETED" if status == "COMPLETED" else "COMPLETED_WITH_ERROR", web_form.error_code)

    # ------------------------------------------------------------------------------------------------ running

    def start(self) -> None:
        self._ticker.start()

    def stop(self) -> None:
        self._ticker.stop()
        self.callbacks.stop()

    def _open_tasks(self) -> list[Task]:
        with self._lock:
            return [t for t in self.tasks.values() if not t.final]
