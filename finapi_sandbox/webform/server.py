"""The Web Form 2.0 simulator's HTTP server, on a port of its own beside the Access sandbox.

* `/api/...`: the Web Form 2.0 API (create a background update task, read a task, read a web form);
* `/wf/{id}`: the web form itself, the pages a user's browser sees; `/callback`: where a bank sends the user back;
* `/bank/{blz}/authorize`: the simulated bank's own page of the redirect approach (approve or cancel);
* `/sandbox/...`: control endpoints for tests (callbacks, poll violations, forced errors, faults, config, reset).
"""

from __future__ import annotations

import contextlib
import json
import re
import socket
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from finapi_sandbox.server import SandboxServer
from finapi_sandbox.webform import controls, pages, render
from finapi_sandbox.webform.access import AccessClient
from finapi_sandbox.webform.callbacks import CallbackDispatcher
from finapi_sandbox.webform.config import WebFormConfig, WebFormFault
from finapi_sandbox.webform.engine import WebFormEngine, WebFormProblem
from finapi_sandbox.webform.flow import PageRefused, WebFormFlow
from finapi_sandbox.webform.requests import InvalidRequest, parse_task_details
from finapi_sandbox.webform.state import Task
from finapi_sandbox.world import World

_UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
_TASK = re.compile(r"^/api/tasks/([^/]+)$")
_WEB_FORM = re.compile(r"^/api/webForms/([^/]+)$")
_PAGE = re.compile(rf"^/wf/({_UUID})(?:/(credentials|procedure|challenge|decoupled|abort))?$")
_BANK = re.compile(r"^/bank/(DEMO000[12])/authorize$")
_COOKIE = "wf_session"


class _Dropped(Exception):
    """Close the connection without answering (an injected network fault)."""


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # see finapi_sandbox/server.py: no 40 ms wait for a delayed ACK per answer

    def log_message(self, format: str, *args: Any) -> None:
        pass

    @property
    def engine(self) -> WebFormEngine:
        return self.server.engine

    @property
    def flow(self) -> WebFormFlow:
        return self.server.flow

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    def do_PATCH(self) -> None:
        self._dispatch("PATCH")

    def _dispatch(self, method: str) -> None:
        url = urlsplit(self.path)
        try:
            if url.path.startswith("/api/"):
                self._api(method, url.path)
            elif url.path.startswith("/sandbox/"):
                self._send_json(*controls.handle(self.server, method, url.path, self._body()))
            else:
                self._browser(method, url.path, url.query)
        except _Dropped:
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)

    # ----------------------------------------------------------------------------------------- plumbing

    def _body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _send(self, status: int, data: bytes, content_type: str, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        if data:
            self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _send_json(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        data = b"" if payload is None else json.dumps(payload).encode()
        self._send(status, data, "application/json", headers)

    def _send_html(self, status: int, html: str, headers: dict[str, str] | None = None) -> None:
        self._send(status, html.encode(), "text/html; charset=utf-8", (headers or {}) | {"Cache-Control": "no-store"})

    def _see_other(self, location: str, headers: dict[str, str] | None = None) -> None:
        self._send(303, b"", "text/plain", (headers or {}) | {"Location": location})

    # ----------------------------------------------------------------------------------------- API

    def _api(self, method: str, path: str) -> None:
        given_id = self.headers.get("X-Request-Id")
        request_id = given_id or f"selfgen-{time.time_ns()}"
        endpoint = f"{method} {path}"
        raw = self._body()
        echo = {"X-Request-Id": request_id[:255]}
        try:
            self._apply_fault(method, path)
            if given_id is not None and len(given_id) > 255:
                raise InvalidRequest([("X-Request-Id", "must be at most 255 characters long")])
            status, payload = self._api_route(method, path, raw)
            self._send_json(status, payload, echo)
        except InvalidRequest as invalid:
            self._send_json(400, render.validation_error(invalid.errors, endpoint, self.engine.now()), echo)
        except WebFormProblem as problem:
            body = render.error(problem.code, problem.description, endpoint, self.engine.now())
            self._send_json(problem.status, body, echo)

    def _apply_fault(self, method: str, path: str) -> None:
        rule = self.server.take_fault(method, path)
        if rule is None:
            return
        if rule.delay_seconds:
            time.sleep(rule.delay_seconds)
        if rule.drop:
            raise _Dropped
        if rule.status is not None:
            raise WebFormProblem(500, "INTERNAL_SERVER_ERROR", "An unexpected error occurred (injected).")

    def _principal(self) -> tuple[str, str]:
        value = self.headers.get("Authorization", "")
        token = value[7:] if value.lower().startswith("bearer ") else ""
        principal = self.server.world.principal_of(token) if token else None
        if principal is None:
            raise WebFormProblem(401, "UNAUTHORIZED", "No valid access token in the request.")
        if principal == "":
            raise WebFormProblem(403, "FORBIDDEN", "This service needs the user's access token, not the client's.")
        return token, principal

    def _api_route(self, method: str, path: str, raw: bytes) -> tuple[int, Any]:
        known = path == "/api/tasks/backgroundUpdate" or _TASK.match(path) or _WEB_FORM.match(path)
        if not known:
            raise WebFormProblem(404, "NOT_FOUND", f"No endpoint {method} {path}.")
        token, principal = self._principal()
        if path == "/api/tasks/backgroundUpdate":
            if method != "POST":
                raise WebFormProblem(405, "NOT_ALLOWED", f"{method} is not allowed here.")
            details = parse_task_details(raw, self.headers.get("Content-Type", ""), self.server.config)
            task = self.engine.create_task(token, principal, details)
            with task.lock:
                return 201, render.task(task)
        if method != "GET":
            raise WebFormProblem(405, "NOT_ALLOWED", f"{method} is not allowed here.")
        self.engine.record_poll(principal, path)
        task_match = _TASK.match(path)
        if task_match:
            found = self.engine.task_of(principal, task_match.group(1))
            if found is None:
                raise WebFormProblem(404, "NOT_FOUND", "Task not found.")
            with found.lock:
                return 200, render.task(found)
        web_form_match = _WEB_FORM.match(path)
        assert web_form_match is not None
        owner_task = self.engine.web_form_of(principal, web_form_match.group(1))
        if owner_task is None or owner_task.web_form is None:
            raise WebFormProblem(404, "NOT_FOUND", "Web form not found.")
        with owner_task.lock:
            return 200, render.web_form(owner_task, owner_task.web_form)

    # ----------------------------------------------------------------------------------------- browser

    def _browser(self, method: str, path: str, query: str) -> None:
        try:
            page = _PAGE.match(path)
            if page:
                self._web_form_page(method, page.group(1), page.group(2), query)
            elif path == "/callback" and method == "GET":
                self._back_from_bank(query)
            elif _BANK.match(path):
                self._bank(method, path, query)
            else:
                raise PageRefused(404, "Not found", "There is no page here.")
        except PageRefused as refused:
            self._send_html(refused.status, pages.refused_page(refused.title, refused.message))

    def _web_form_page(self, method: str, web_form_id: str, action: str | None, query: str) -> None:
        task = self.engine.task_by_web_form(web_form_id)
        if task is None or task.web_form is None:
            raise PageRefused(404, "Web form not found", "This web form does not exist.")
        web_form = task.web_form
        with task.lock:
            if method == "GET" and action is None:
                links = {k: v[0] for k, v in parse_qs(query).items()}
                session = self.flow.open(task, self._cookie(), links, self._psu())
                if web_form.status not in ("COMPLETED", "COMPLETED_WITH_ERROR", "EXPIRED", "ABORTED"):
                    self.flow.refresh(task)
                cookie = {}
                if session is not None:
                    cookie = {"Set-Cookie": f"{_COOKIE}={session}; Path=/wf/{web_form.id}; HttpOnly; SameSite=Lax"}
                html = pages.step_page(
                    task, web_form, self.server.config.page_refresh_seconds, self.server.config.final_redirect_seconds
                )
                self._send_html(200, html, cookie)
                return
            if method != "POST" or action is None:
                raise PageRefused(405, "Not allowed", "This page only takes form submissions.")
            form = {k: v[0] for k, v in parse_qs(self._body().decode(errors="replace")).items()}
            if self._cookie() != web_form.session or form.get("csrf") != web_form.csrf or web_form.session is None:
                raise PageRefused(403, "Not allowed", "This form does not belong to your browser session.")
            self._submit(task, action, form)
        self._see_other(f"/wf/{web_form.id}")

    def _submit(self, task: Task, action: str, form: dict[str, str]) -> None:
        if action == "credentials":
            self.flow.submit_credentials(
                task, form.get("userId", ""), form.get("pin", ""), form.get("storeSecrets") == "true"
            )
        elif action == "procedure":
            self.flow.choose_procedure(task, form.get("procedureId", ""))
        elif action == "challenge":
            self.flow.answer_challenge(task, form.get("challengeResponse", ""))
        elif action == "decoupled":
            self.flow.confirm_decoupled(task)
        elif action == "abort":
            self.flow.abort(task)

    def _back_from_bank(self, query: str) -> None:
        state = parse_qs(query).get("state", [""])[0]
        task = self.engine.task_by_redirect_context(state) if state else None
        if task is None or task.web_form is None:
            raise PageRefused(404, "Unknown return", "The bank sent you back with an unknown state.")
        with task.lock:
            self.flow.return_from_bank(task, query)
        self._see_other(f"/wf/{task.web_form.id}")

    def _bank(self, method: str, path: str, query: str) -> None:
        match = _BANK.match(path)
        assert match is not None
        blz = match.group(1)
        if method == "GET":
            parameters = {k: v[0] for k, v in parse_qs(query).items()}
            state, redirect = parameters.get("state", ""), parameters.get("redirect", "")
            if not state or not redirect.startswith(("http://", "https://")):
                raise PageRefused(400, "Bad request", "The bank page needs a state and an http(s) redirect.")
            name = "finAPI Test Redirect Bank" if blz == "DEMO0002" else "finAPI Test Bank"
            self._send_html(200, pages.bank_page(name, path, state, redirect))
            return
        form = {k: v[0] for k, v in parse_qs(self._body().decode(errors="replace")).items()}
        redirect = form.get("redirect", "")
        if not redirect.startswith(("http://", "https://")):
            raise PageRefused(400, "Bad request", "The bank page needs an http(s) redirect.")
        approved = form.get("decision") == "approve"
        self._see_other(
            pages.back_from_bank_url(redirect, form.get("state", ""), approved, f"sandbox-{time.time_ns()}")
        )

    def _cookie(self) -> str | None:
        for part in self.headers.get("Cookie", "").split(";"):
            name, _, value = part.strip().partition("=")
            if name == _COOKIE:
                return value
        return None

    def _psu(self) -> dict[str, str]:
        agent = self.headers.get("User-Agent", "")
        systems = (("Android", "Android"), ("iPhone", "iOS"), ("Windows", "Windows"), ("Mac OS", "macOS"))
        device = next((name for marker, name in systems if marker in agent), "Linux" if "Linux" in agent else "unknown")
        return {"ipAddress": self.client_address[0], "deviceOs": device, "userAgent": agent[:1024] or "unknown"}


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], world: World, config: WebFormConfig, engine: WebFormEngine) -> None:
        super().__init__(address, _Handler)
        self.world = world
        self.config = config
        self.engine = engine
        self.flow = WebFormFlow(engine)
        self._faults: list[WebFormFault] = list(config.faults)
        self._fault_uses: dict[int, int] = {}
        self._fault_lock = threading.Lock()

    def add_fault(self, fault: WebFormFault) -> None:
        with self._fault_lock:
            self._faults.append(fault)

    def clear_faults(self) -> None:
        with self._fault_lock:
            self._faults = []
            self._fault_uses = {}

    def take_fault(self, method: str, path: str) -> WebFormFault | None:
        with self._fault_lock:
            for index, rule in enumerate(self._faults):
                if rule.method and rule.method.upper() != method.upper():
                    continue
                if rule.path and rule.path not in path:
                    continue
                if rule.times is not None and self._fault_uses.get(index, 0) >= rule.times:
                    continue
                self._fault_uses[index] = self._fault_uses.get(index, 0) + 1
                return rule
            return None


class WebFormServer:
    """finAPI Web Form 2.0 on loopback, sharing the Access sandbox's world (users, tokens, connections, clock).

    ``with SandboxServer() as access, WebFormServer(access) as web_form: web_form.base_url``
    """

    def __init__(
        self,
        access: SandboxServer,
        config: WebFormConfig | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.config = config or WebFormConfig()
        world = access.world
        self.callbacks = CallbackDispatcher(self.config, world.now)
        self.engine = WebFormEngine(self.config, AccessClient(access.base_url), self.callbacks, world.now)
        self._server = _Server((host, port), world, self.config, self.engine)
        self.engine.base_url = self.base_url
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        address = self._server.server_address
        host = address[0].decode() if isinstance(address[0], bytes) else address[0]
        return f"http://{host}:{address[1]}"

    @property
    def server(self) -> _Server:
        return self._server

    def start(self) -> WebFormServer:
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="finapi-webform", daemon=True
        )
        self._thread.start()
        self.engine.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self.engine.stop()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def wait_until(self, predicate: Callable[[], bool], timeout: float = 15.0) -> bool:
        """For tests: wait (at most `timeout`) until `predicate` holds; says whether it did."""
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.02)
        return True

    def serve_forever(self) -> None:
        self.engine.start()
        self._server.serve_forever()

    def __enter__(self) -> WebFormServer:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()
