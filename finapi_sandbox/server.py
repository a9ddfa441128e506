"""The sandbox's HTTP server: finAPI's endpoints (V1 and V2 at once) plus `/sandbox/...` control endpoints."""

from __future__ import annotations

import contextlib
import json
import re
import socket
import threading
import time
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from finapi_sandbox import render
from finapi_sandbox.config import FaultRule, SandboxConfig
from finapi_sandbox.problems import FinapiProblem, bad_request
from finapi_sandbox.updates import PSU_HEADERS, process_update
from finapi_sandbox.world import Call, World

_API = re.compile(r"^/api/(v1|v2)/(bankConnections|accounts)(?:/(\d+|update))?$")


class _Dropped(Exception):
    """Close the connection without answering (an injected network fault)."""


class _UserIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    username: str = Field(min_length=1, max_length=128)
    password: str = Field(min_length=1, max_length=128)


class _ConnectionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    username: str
    bank_blz: str = "DEMO0001"
    stored_pin: bool = False
    consent_days_left: float | None = 90.0
    imported_account_count: int = Field(2, ge=0, le=3)
    download_seconds: float | None = Field(None, ge=0)
    failing_account_indexes: list[int] = []
    user_action_required: bool = False


class _ClockIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    offset_seconds: float


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes; with Nagle's algorithm the body waits for the client's delayed ACK
    # (about 40 ms on Linux) on every kept-alive request.
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:
        pass  # quiet: tests and the demo print what matters

    # ----------------------------------------------------------------------------------------- plumbing

    @property
    def world(self) -> World:
        return self.server.world

    def _body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _send(self, status: int, payload: Any = None, headers: dict[str, str] | None = None) -> None:
        data = b"" if payload is None else json.dumps(payload).encode()
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        if payload is not None:
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _drop(self) -> None:
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    def _dispatch(self, method: str) -> None:
        url = urlsplit(self.path)
        try:
            if url.path.startswith("/sandbox/"):
                self._control(method, url.path, parse_qs(url.query))
            else:
                self._finapi(method, url.path, parse_qs(url.query))
        except _Dropped:
            self._drop()

    # ----------------------------------------------------------------------------------------- finAPI

    def _finapi(self, method: str, path: str, query: dict[str, list[str]]) -> None:
        request_id = (self.headers.get("X-Request-Id") or render.self_generated_request_id())[:255]
        raw = self._body()
        headers = {k.lower(): v for k, v in self.headers.items()}
        version = "v2" if path.startswith("/api/v2/") else "v1"
        connection_id = _connection_id_of(path, raw)
        status, answer = 500, None
        try:
            before = self.world.fault_for(method, path, connection_id, "before")
            if before is not None:
                self._apply_fault(before, request_id)
            status, payload = self._route(method, path, query, raw, headers, version)
            after = self.world.fault_for(method, path, connection_id, "after")
            if after is not None:
                self._apply_fault(after, request_id)
            answer = payload
        except FinapiProblem as problem:
            status = problem.status
            answer = render.error_message(
                problem,
                version=version,
                request_id=request_id,
                endpoint=f"{method} {path}",
                auth_context=f"1/{abs(hash(headers.get('authorization', ''))) % 1000}",
                now=self.world.now(),
            )
        except _BadToken as error:
            status = 401
            answer = {"error": "invalid_token", "error_description": f"Invalid access token: {error.hint}"}
        except _Dropped:
            status = 0
            raise
        finally:
            # Logged before the answer leaves: a client that reads the call log after its answer finds the call.
            self.world.record_call(
                Call(method, path, connection_id, any(headers.get(h) for h in PSU_HEADERS), status, self.world.now())
            )
        self._send(status, answer, {"X-Request-Id": request_id})

    def _apply_fault(self, rule: FaultRule, request_id: str) -> None:
        if rule.delay_seconds:
            time.sleep(rule.delay_seconds)
        if rule.drop:
            raise _Dropped
        if rule.lock:
            raise FinapiProblem(423, "LOCKED", "The bank connection is currently being updated.")
        if rule.status is not None:
            raise FinapiProblem(rule.status, "UNEXPECTED_ERROR", "An unexpected error occurred (injected).")

    def _user(self, headers: dict[str, str]) -> str:
        value = headers.get("authorization", "")
        token = value[7:] if value.lower().startswith("bearer ") else ""
        principal = self.world.principal_of(token)
        if not principal:  # None, or the client's own token on a user endpoint
            raise _BadToken(token[:6] + "..." if token else "<none>")
        return principal

    def _route(
        self, method: str, path: str, query: dict[str, list[str]], raw: bytes, headers: dict[str, str], version: str
    ) -> tuple[int, Any]:
        if method == "POST" and path in ("/oauth/token", "/api/v2/oauth/token"):
            return 200, self._token(raw)
        match = _API.match(path)
        if match is None:
            raise FinapiProblem(404, "UNKNOWN_ENTITY", f"No endpoint {method} {path}.")
        username = self._user(headers)
        version, resource, item = match.groups()
        if resource == "bankConnections" and item == "update" and method == "POST":
            try:
                body = json.loads(raw or b"null")
            except ValueError:
                raise bad_request("Request body is not valid JSON.") from None
            connection = process_update(self.world, username, body, headers, version)
            with self.world.lock:
                return 200, render.bank_connection(connection, version)
        if method != "GET":
            raise FinapiProblem(405, "METHOD_NOT_ALLOWED", f"{method} is not allowed here.")
        with self.world.lock:
            if resource == "bankConnections" and item is None:
                ids = [i for part in query.get("ids", []) for i in part.split(",") if i]
                if len(ids) > 1000:
                    raise FinapiProblem(400, "TOO_MANY_IDS", "At most 1000 ids are allowed.")
                if not all(i.isdigit() for i in ids):
                    raise bad_request("Parameter 'ids' must be a comma-separated list of integers.")
                found = [self._owned(username, int(i)) for i in ids] if ids else self._all(username)
                return 200, {"connections": [render.bank_connection(c, version) for c in found if c is not None]}
            if resource == "bankConnections" and item is not None:
                connection = self._owned(username, int(item))
                if connection is None:
                    raise FinapiProblem(404, "UNKNOWN_ENTITY", f"Bank connection {item} not found.")
                return 200, render.bank_connection(connection, version)
            if resource == "accounts" and item is not None:
                for connection in self._all(username):
                    for account in connection.accounts:
                        if account.id == int(item):
                            return 200, render.account(account, connection, version)
                raise FinapiProblem(404, "UNKNOWN_ENTITY", f"Account {item} not found.")
        raise FinapiProblem(404, "UNKNOWN_ENTITY", f"No endpoint {method} {path}.")

    def _owned(self, username: str, connection_id: int) -> Any:
        connection = self.world.connections.get(connection_id)
        if connection is None or connection.owner != username:
            return None
        self.world.settle(connection)
        return connection

    def _all(self, username: str) -> list[Any]:
        mine = [c for c in self.world.connections.values() if c.owner == username]
        for connection in mine:
            self.world.settle(connection)
        return mine

    def _token(self, raw: bytes) -> dict[str, Any]:
        form = {k: v[0] for k, v in parse_qs(raw.decode()).items()}
        config = self.world.config
        if form.get("client_id") != config.client_id or form.get("client_secret") != config.client_secret:
            raise _BadClient
        grant = form.get("grant_type")
        if grant == "client_credentials":
            access, _ = self.world.issue_token("", refresh=False)
            return _access_token(access.value, None, config.token_ttl_seconds)
        if grant == "password":
            user = self.world.users.get(form.get("username", ""))
            if user is None or user.password != form.get("password"):
                raise bad_request("Bad user credentials.")
            access, refresh = self.world.issue_token(user.username, refresh=True)
            return _access_token(access.value, refresh.value if refresh else None, config.token_ttl_seconds)
        if grant == "refresh_token":
            principal = self.world.principal_of(form.get("refresh_token", ""), refresh=True)
            if not principal:
                raise bad_request("Invalid refresh token.")
            access, refresh = self.world.issue_token(principal, refresh=True)
            return _access_token(access.value, refresh.value if refresh else None, config.token_ttl_seconds)
        raise bad_request(f"Unsupported grant_type '{grant}'.")

    # ----------------------------------------------------------------------------------------- control

    def _control(self, method: str, path: str, query: dict[str, list[str]]) -> None:
        raw = self._body()
        try:
            self._send(*self._control_route(method, path, query, raw))
        except (ValidationError, ValueError, KeyError) as error:
            self._send(400, {"error": str(error)[:500]})

    def _control_route(
        self, method: str, path: str, query: dict[str, list[str]], raw: bytes
    ) -> tuple[int, Any] | tuple[int, Any, dict[str, str]]:
        world = self.world
        body = json.loads(raw) if raw else {}
        if method == "POST" and path == "/sandbox/users":
            user = _UserIn.model_validate(body)
            world.create_user(user.username, user.password)
            return 201, {"username": user.username}
        if method == "POST" and path == "/sandbox/connections":
            seed = _ConnectionIn.model_validate(body)
            expires = None if seed.consent_days_left is None else world.now() + _days(seed.consent_days_left)
            connection_id = world.add_connection(
                seed.username,
                bank_blz=seed.bank_blz,
                stored_pin=seed.stored_pin,
                consent_expires_at=expires,
                imported_account_count=seed.imported_account_count,
                download_seconds=seed.download_seconds,
                failing_account_indexes=seed.failing_account_indexes,
                user_action_required=seed.user_action_required,
            )
            return 201, world.connection(connection_id)
        if method == "GET" and path.startswith("/sandbox/connections/"):
            return 200, world.connection(int(path.rsplit("/", 1)[1]))
        if method == "GET" and path == "/sandbox/calls":
            return 200, [
                {
                    "method": c.method,
                    "path": c.path,
                    "connectionId": c.connection_id,
                    "psuPresent": c.psu_present,
                    "status": c.status,
                    "at": c.at.isoformat(),
                }
                for c in world.calls
            ]
        if method == "POST" and path == "/sandbox/faults":
            world.add_fault(**FaultRule.model_validate(body).model_dump())
            return 201, {"faults": len(world.faults)}
        if method == "DELETE" and path == "/sandbox/faults":
            world.clear_faults()
            return 200, {"faults": 0}
        if method == "POST" and path == "/sandbox/clock":
            world.set_clock_offset(_ClockIn.model_validate(body).offset_seconds)
            return 200, {"now": world.now().isoformat()}
        if method == "POST" and path == "/sandbox/reset":
            world.reset()
            return 200, {"reset": True}
        if method == "POST" and path == "/sandbox/tokens/expire":
            world.expire_tokens()
            return 200, {"expired": True}
        match = re.match(r"^/sandbox/bank/(DEMO000[12])/authorize$", path)
        if method == "GET" and match:
            # The bank's login page, approved at once: back to the app with the state and an authorization code.
            back = query.get("redirect", [""])[0]
            state = query.get("state", [""])[0]
            if not back.startswith(("http://", "https://")):
                return 400, {"error": "redirect must be an http(s) URL"}
            separator = "&" if "?" in back else "?"
            location = back + separator + urlencode({"state": state, "code": f"sandbox-{int(time.time())}"})
            return 302, None, {"Location": location}
        return 404, {"error": f"no control endpoint {method} {path}"}


class _BadToken(Exception):
    def __init__(self, hint: str) -> None:
        super().__init__(hint)
        self.hint = hint


class _BadClient(FinapiProblem):
    def __init__(self) -> None:
        super().__init__(401, "UNAUTHORIZED_ACCESS", "Bad client credentials.")


def _days(days: float) -> timedelta:
    return timedelta(days=days)


def _access_token(token: str, refresh: str | None, ttl: int) -> dict[str, Any]:
    body: dict[str, Any] = {"access_token": token, "token_type": "bearer", "expires_in": ttl, "scope": "all"}
    if refresh:
        body["refresh_token"] = refresh
    return body


def _connection_id_of(path: str, raw: bytes) -> int | None:
    match = _API.match(path)
    if match and match.group(2) == "bankConnections" and match.group(3) and match.group(3).isdigit():
        return int(match.group(3))
    if path.endswith("/bankConnections/update"):
        try:
            value = json.loads(raw or b"null").get("bankConnectionId")
        except (ValueError, AttributeError):
            return None
        return value if isinstance(value, int) else None
    return None


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128  # bursts of parallel clients must queue, not be reset

    def __init__(self, address: tuple[str, int], world: World) -> None:
        super().__init__(address, _Handler)
        self.world = world


class SandboxServer:
    """The finAPI sandbox on loopback: ``with SandboxServer(SandboxConfig.default()) as sandbox: sandbox.base_url``."""

    def __init__(self, config: SandboxConfig | None = None, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self.config = config or SandboxConfig.default()
        self.world = World(self.config)
        self._server = _Server((host, port), self.world)
        self._thread: threading.Thread | None = None
        self.world.base_url = self.base_url

    @property
    def base_url(self) -> str:
        address = self._server.server_address
        host = address[0].decode() if isinstance(address[0], bytes) else address[0]
        return f"http://{host}:{address[1]}"

    @property
    def client_id(self) -> str:
        return self.config.client_id

    @property
    def client_secret(self) -> str:
        return self.config.client_secret

    def start(self) -> SandboxServer:
        self._thread = threading.Thread(target=self._server.serve_forever, name="finapi-sandbox", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def serve_forever(self) -> None:
        self._server.serve_forever()

    def __enter__(self) -> SandboxServer:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()


__all__ = ["SandboxServer", "datetime"]
