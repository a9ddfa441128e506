"""The Web Form's calls to finAPI Access, over real HTTP to the Access sandbox, as finAPI's own web form makes them.

Going through Access's HTTP interface (not its Python objects) keeps the two simulators honest with each other: a web
form update changes the Access world exactly as an Access update does, and Access's faults, token expiry and rules
reach the web form the way they would reach finAPI's.
"""

from __future__ import annotations

import http.client
import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

PSU_HEADER_NAMES = {"ipAddress": "PSU-IP-Address", "deviceOs": "PSU-Device-OS", "userAgent": "PSU-User-Agent"}


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
