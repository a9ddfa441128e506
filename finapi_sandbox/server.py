"""The sandbox's HTTP server: finAPI's endpoints (V1 and V2 at once) plus `/sandbox/...` control endpoints."""

from __future__ import annotations

import contextlib
import ipaddress
import json
import re
import socket
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from finapi_sandbox import bank_page, reads, render, tokens
from finapi_sandbox.config import FaultRule, SandboxConfig
from finapi_sandbox.conformance import ConformanceLog, answer_problems, is_v1, request_problems
from finapi_sandbox.openapi import Problem, access_spec
from finapi_sandbox.problems import BadCredentials, FinapiProblem, bad_request, not_modelled, unauthorized_access
from finapi_sandbox.updates import process_update, psu_present
from finapi_sandbox.world import Call, World

_API = re.compile(r"^/api/(v1|v2)/(bankConnections|accounts|transactions)(?:/([^/]+))?$")
MAX_REQUEST_ID = 255


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
    legacy_web_form: bool = False


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

    def do_PUT(self) -> None:
        self._dispatch("PUT")

    def do_PATCH(self) -> None:
        self._dispatch("PATCH")

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
        raw = self._body()
        headers = {k.lower(): v for k, v in self.headers.items()}
        version = "v2" if path.startswith("/api/v2/") else "v1"
        given_id = self.headers.get("X-Request-Id")
        too_long = given_id is not None and len(given_id) > MAX_REQUEST_ID
        request_id = given_id if given_id and not too_long else render.self_generated_request_id()
        problems = request_problems(method, path, query, headers, raw) if is_v1(path) else []
        connection_id = _connection_id_of(path, raw)
        exchange = _Exchange(method, path, request_id, problems, connection_id, psu_present(headers))
        try:
            if too_long:
                raise bad_request(f"Header 'X-Request-Id' must have at most {MAX_REQUEST_ID} characters.")
            before = self.world.fault_for(method, path, connection_id, "before")
            if before is not None:
                self._apply_fault(before)
            status, payload = self._route(method, path, query, raw, headers, version, problems)
            after = self.world.fault_for(method, path, connection_id, "after")
            if after is not None:
                self._apply_fault(after)
            self._answer(exchange, status, payload)
        except FinapiProblem as problem:
            body = render.error_message(
                problem,
                version=version,
                request_id=request_id,
                endpoint=f"{method} {path}",
                auth_context=f"1/{abs(hash(headers.get('authorization', ''))) % 1000}",
                now=self.world.now(),
            )
            self._answer(exchange, problem.status, body, problem.headers)
        except BadCredentials as error:
            self._answer(exchange, 401, render.bad_credentials(error))
        except _Dropped:
            self._record(exchange, 0, [])
            raise

    def _answer(self, exchange: _Exchange, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        data = b"" if payload is None else json.dumps(payload).encode()
        sent = {"X-Request-Id": exchange.request_id} | (headers or {})
        if payload is not None:
            sent["Content-Type"] = "application/json"
        checked = self.server.conformance is not None and is_v1(exchange.path)
        lowered = {name.lower(): value for name, value in sent.items()}
        # Logged before the answer leaves: whoever reads the logs after getting the answer finds it there.
        self._record(
            exchange, status, answer_problems(exchange.method, exchange.path, status, lowered, data) if checked else []
        )
        self.send_response(status)
        for name, value in sent.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _record(self, exchange: _Exchange, status: int, answered: list[Problem]) -> None:
        """Both logs: the call log (every call) and the conformance log (V1, when it is on)."""
        world = self.world
        world.record_call(
            Call(exchange.method, exchange.path, exchange.connection_id, exchange.psu_present, status, world.now())
        )
        log = self.server.conformance
        if log is not None and is_v1(exchange.path):
            log.record(exchange.method, exchange.path, status, exchange.problems, answered)

    def _apply_fault(self, rule: FaultRule) -> None:
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
        if principal is None:
            hint = token[:6] + "..." if token else "<none>"
            raise BadCredentials("invalid_token", f"Invalid access token: {hint}")
        if not principal:
            raise unauthorized_access()  # the client's own token on a user endpoint
        return principal

    def _route(
        self,
        method: str,
        path: str,
        query: dict[str, list[str]],
        raw: bytes,
        headers: dict[str, str],
        version: str,
        problems: list[Problem],
    ) -> tuple[int, Any]:
        if path in ("/oauth/token", "/api/v2/oauth/token") and method == "POST":
            _require_media(headers, "application/x-www-form-urlencoded")
            form = {key: values[0] for key, values in parse_qs(raw.decode("utf-8", "replace")).items()}
            tokens.check_client(self.world, form)
            _refuse(problems)
            with self.world.lock:
                return 200, tokens.grant(self.world, form)
        match = _API.match(path)
        if match is None:
            if version == "v1" and access_spec().has_path(path):
                raise not_modelled(method, path)
            raise FinapiProblem(404, "UNKNOWN_ENTITY", f"No endpoint {method} {path}.")
        _, resource, item = match.groups()
        if resource == "transactions" and (item is not None or method != "GET"):
            if version == "v1" and access_spec().find(method, path) is not None:
                raise not_modelled(method, path)  # only the search is modelled: no edits, splits or deletions
            raise FinapiProblem(404, "UNKNOWN_ENTITY", f"No endpoint {method} {path}.")
        username = self._user(headers)
        if resource == "bankConnections" and item == "update" and method == "POST":
            _require_media(headers, "application/json")
            _refuse(problems)
            _check_psu_address(self.world.psu_ipv6, headers)
            try:
                body = json.loads(raw or b"null")
            except ValueError:
                raise bad_request("Request body is not valid JSON.") from None
            connection = process_update(self.world, username, body, headers, version)
            with self.world.lock:
                return 200, render.bank_connection(connection, version)
        if method != "GET":
            if version == "v1" and access_spec().find(method, path) is not None:
                raise not_modelled(method, path)
            raise FinapiProblem(405, "METHOD_NOT_ALLOWED", f"{method} is not allowed here.")
        _refuse(problems)
        with self.world.lock:
            if resource == "transactions":
                return 200, reads.transactions(self.world, username, query, version)
            if resource == "bankConnections":
                if item is None:
                    return 200, reads.bank_connections(self.world, username, query, version)
                return 200, reads.bank_connection(self.world, username, item, version)
            if item is None:
                return 200, reads.accounts(self.world, username, query, version)
            return 200, reads.account(self.world, username, item, version)

    # ----------------------------------------------------------------------------------------- control

    def _control(self, method: str, path: str, query: dict[str, list[str]]) -> None:
        raw = self._body()
        bank = re.match(r"^/sandbox/bank/(DEMO000[12])/authorize$", path)
        if bank is not None and (method == "POST" or bank_page.wants_page(self.headers.get("Accept", ""))):
            self._bank_page(method, path, bank.group(1), query, raw)
            return
        try:
            self._send(*self._control_route(method, path, query, raw))
        except (ValidationError, ValueError, KeyError) as error:
            self._send(400, {"error": str(error)[:500]})

    def _bank_page(self, method: str, path: str, blz: str, query: dict[str, list[str]], raw: bytes) -> None:
        fields = query if method == "GET" else parse_qs(raw.decode(errors="replace"))
        state, redirect = fields.get("state", [""])[0], fields.get("redirect", [""])[0]
        if not state or not redirect.startswith(("http://", "https://")):
            self._send(400, {"error": "the bank page needs a state and an http(s) redirect"})
            return
        if method == "GET":
            data = bank_page.page(blz, path, state, redirect).encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            return
        approved = fields.get("decision", [""])[0] == "approve"
        self._send(303, None, {"Location": bank_page.back_to_app(redirect, state, approved)})

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
                legacy_web_form=seed.legacy_web_form,
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
        if method == "GET" and path == "/sandbox/conformance":
            log = self.server.conformance
            if log is None:
                return 404, {"error": "conformance checking is off (check_conformance in the scenario)"}
            return 200, {"checked": log.checked, "findings": [str(f) for f in log.take()]}
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


@dataclass
class _Exchange:
    """One finAPI request on its way through the sandbox, for the conformance log and the call log."""

    method: str
    path: str
    request_id: str
    problems: list[Problem]
    connection_id: int | None
    psu_present: bool


def _require_media(headers: dict[str, str], expected: str) -> None:
    given = headers.get("content-type", "").split(";")[0].strip().lower()
    if given != expected:
        # finAPI has the code; the status is a guess (the spec declares no 415), see docs/finapi-fidelity.md.
        raise FinapiProblem(400, "UNSUPPORTED_MEDIA_TYPE", f"Content-Type must be {expected}.")


def _check_psu_address(behaviour: str, headers: dict[str, str]) -> None:
    """A finAPI that applies its V1 spec's ``format: ipv4`` to ``PSU-IP-Address`` (``SandboxConfig.psu_ipv6``)."""
    value = headers.get("psu-ip-address", "").strip()
    if behaviour != "refused" or not value:
        return
    try:
        ipaddress.IPv4Address(value)
    except ValueError:
        raise bad_request("Invalid request: header PSU-IP-Address: must be an IPv4 address") from None


def _refuse(problems: list[Problem]) -> None:
    """A V1 request that breaks finAPI's spec gets finAPI's 400 (an operation the spec lacks is routed instead)."""
    breaking = [p for p in problems if p.location != "operation"]
    if breaking:
        raise bad_request("Invalid request: " + "; ".join(str(p) for p in breaking[:5]))


def _days(days: float) -> timedelta:
    return timedelta(days=days)


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
        self.conformance = ConformanceLog() if world.config.check_conformance else None


class SandboxServer:
    """The finAPI sandbox on loopback: ``with SandboxServer(SandboxConfig.default()) as sandbox: sandbox.base_url``."""

    def __init__(self, config: SandboxConfig | None = None, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self.config = config or SandboxConfig.default()
        access_spec()  # loaded now, so that the first request is not the one that waits for it
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
    def conformance(self) -> ConformanceLog | None:
        """The exchanges that broke finAPI's spec, when ``config.check_conformance`` is on."""
        return self._server.conformance

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
