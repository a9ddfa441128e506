"""Web Form 2.0 response and callback bodies, with only the fields finAPI's schemas have."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from finapi_sandbox.webform.state import FINAL_WEB_FORM_STATUSES, Task, WebForm


def timestamp(moment: datetime) -> str:
    """The spec's `yyyy-MM-dd'T'HH:mm:ss.SSSZ`, e.g. `2021-03-02T13:51:08.973+0000`."""
    utc = moment.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}+0000"


def web_form_info(web_form: WebForm | None) -> dict[str, Any] | None:
    if web_form is None:
        return None
    return {"id": web_form.id, "url": web_form.url, "status": web_form.status}


def task(task: Task) -> dict[str, Any]:
    return {
        "id": task.id,
        "createdAt": timestamp(task.created_at),
        "type": "BANK_CONNECTION_UPDATE",
        "status": task.status,
        "payload": {
            "bankConnectionId": task.connection_id,
            "webForm": web_form_info(task.web_form),
            "errorCode": task.error_code,
        },
    }


def web_form(task: Task, web_form: WebForm) -> dict[str, Any]:
    final = web_form.status in FINAL_WEB_FORM_STATUSES
    return {
        "id": web_form.id,
        "url": web_form.url,
        "createdAt": timestamp(web_form.created_at),
        "expiresAt": timestamp(web_form.expires_at),
        "type": "BANK_CONNECTION_UPDATE",
        "status": web_form.status,
        "payload": {
            # "Initialized as soon as the Web Form reaches a final status and a bank connection exists in Access."
            "bankConnectionId": task.connection_id if final else None,
            "errorCode": web_form.error_code,
        },
    }


def task_callback(task: Task) -> dict[str, Any]:
    return {"taskId": task.id, "status": task.status, "webForm": web_form_info(task.web_form)}


def error(code: str, description: str, endpoint: str, now: datetime) -> dict[str, Any]:
    return {"code": code, "description": description, "timestamp": timestamp(now), "endpoint": endpoint}


def validation_error(errors: list[tuple[str, str]], endpoint: str, now: datetime) -> dict[str, Any]:
    return {
        "errors": [{"field": field, "message": message} for field, message in errors],
        "timestamp": timestamp(now),
        "endpoint": endpoint,
    }
