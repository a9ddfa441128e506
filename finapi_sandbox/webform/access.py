"""The Web Form's calls to finAPI Access, over real HTTP to the Access sandbox, as finAPI's own web form makes them:
the update a task asks for, the reads of its connection, and what Access's answers mean for the task.

Going through Access's HTTP interface (not its Python objects) keeps the two simulators honest with each other: a web
form update changes the Access world exactly as an Access update does, and Access's faults, token expiry and rules
reach the web form the way they would reach finAPI's.
"""

from __future__ import annotations

import http.client
import json
import secrets
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from finapi_sandbox.webform.requests import ACCESS_ACCOUNT_TYPES
from finapi_sandbox.webform.state import Task, TaskErrorCode

PSU_HEADER_NAMES = {"ipAddress": "PSU-IP-Address", "deviceOs": "PSU-Device-OS", "userAgent": "PSU-User-Agent"}
# Access answers to an unattended update that a user can fix in the web form (SCA, credentials, consent, the bank's
# daily budget for unattended access: a present user lifts all of them).
NEEDS_USER = ("MISSING_FIELD", "INVALID_CONSENT", "BANK_SERVER_REJECTION")


@dataclass(frozen=True)
class AccessAnswer:
    status: int  # 0: no answer (connection refused, dropped, timed out)
    body: Any

    @property
    def error_code(self) -> str | None:
        try:
            return str(self.body["errors"][0]["code"])
        except (KeyError, IndexError, TypeError):
            return None

    @property
    def error_message(self) -> str | None:
        try:
            message = self.body["errors"][0]["message"]
        except (KeyError, IndexError, TypeError):
            return None
        return str(message) if message is not None else None

    @property
    def challenge(self) -> dict[str, Any] | None:
        try:
            found = self.body["errors"][0]["multiStepAuthentication"]
        except (KeyError, IndexError, TypeError):
            return None
        return found if isinstance(found, dict) else None


class AccessClient:
    def __init__(self, base_url: str, timeout_seconds: float = 15.0) -> None:
        parts = urlsplit(base_url)
        self._host = parts.hostname or "127.0.0.1"
        self._port = parts.port or 80
        self._timeout = timeout_seconds

    def get_connection(self, token: str, connection_id: int, request_id: str) -> AccessAnswer:
        return self._call("GET", f"/api/v1/bankConnections/{connection_id}", token, request_id)

    def update(self, token: str, body: dict[str, Any], psu: dict[str, str], request_id: str) -> AccessAnswer:
        headers = {PSU_HEADER_NAMES[key]: value for key, value in psu.items() if value}
        return self._call("POST", "/api/v1/bankConnections/update", token, request_id, body, headers)

    def _call(
        self,
        method: str,
        path: str,
        token: str,
        request_id: str,
        body: dict[str, Any] | None = None,
        extra_headers: dict[str, str] | None = None,
    ) -> AccessAnswer:
        headers = {"Authorization": f"Bearer {token}", "X-Request-Id": request_id, "Accept": "application/json"}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        headers |= extra_headers or {}
        connection = http.client.HTTPConnection(self._host, self._port, timeout=self._timeout)
        try:
            connection.request(method, path, body=data, headers=headers)
            response = connection.getresponse()
            raw = response.read()
        except (OSError, http.client.HTTPException):
            return AccessAnswer(0, None)
        finally:
            connection.close()
        try:
            parsed = json.loads(raw) if raw else None
        except ValueError:
            parsed = None
        return AccessAnswer(response.status, parsed)


def update_body(task: Task, callback_url: str, **extra: Any) -> dict[str, Any]:
    """The task's `UpdateBankConnectionParams`; ``callback_url``: where the bank sends the user back."""
    details = task.details
    body: dict[str, Any] = {"bankConnectionId": task.connection_id, "interface": task.primary_interface}
    if details.importNewAccounts:
        body["importNewAccounts"] = True
        if details.accountTypes:
            body["accountTypes"] = [ACCESS_ACCOUNT_TYPES[t] for t in details.accountTypes]
    if details.skipPositionsDownload:
        body["skipPositionsDownload"] = True
    if details.loadOwnerData:
        body["loadOwnerData"] = True
    if task.redirect_bank:
        # Licensed mandators give their own registered URL (it forwards to our /callback); others use ours.
        body["redirectUrl"] = details.redirectUrl or callback_url
    return body | extra


def request_id(task: Task) -> str:
    return f"webform-{task.id[:8]}-{secrets.token_hex(4)}"


def failure_code(answer: AccessAnswer) -> TaskErrorCode:
    """The task's errorCode for an Access answer that ends the flow."""
    if answer.status == 401:
        return "INVALID_TOKEN"
    if answer.status == 0:
        return "INTERNAL_ERROR"
    if answer.status == 422 and answer.error_code == "BANK_SERVER_REJECTION":
        return "BANK_SERVER_REJECTION"
    return "UNEXPECTED_ACCESS_RESPONSE"


def last_manual_result(connection: dict[str, Any], interface: str) -> str | None:
    """How the last update by hand of ``interface`` ended, as a `BankConnection` from Access says."""
    for item in connection.get("interfaces", []):
        if item.get("interface") == interface and item.get("lastManualUpdate"):
            return str(item["lastManualUpdate"]["result"])
    return None
