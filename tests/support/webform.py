"""Test helpers for the Web Form 2.0 simulator: an API client that checks every answer against finAPI's spec, a
loopback receiver for callbacks and for the browser's return, and fresh finAPI users with connections."""

from __future__ import annotations

import json
import re
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

import httpx

from tests.support.webform_spec import assert_answer_conforms, assert_conforms

FINAL = ("COMPLETED", "COMPLETED_WITH_ERROR")


class PageDriver:
    """A browser without a browser: keeps the web form's cookie and posts its forms."""

    def __init__(self, url: str) -> None:
        self.client = httpx.Client(follow_redirects=True, timeout=15)
        self.base = url.split("/wf/", maxsplit=1)[0]
        self.page = self.client.get(url)

    def post(self, action: str, **fields: str) -> httpx.Response:
        csrf = re.search(r'name="csrf" value="([^"]+)"', self.page.text)
        assert csrf, self.page.text
        self.page = self.client.post(f"{self.base}{action}", data={"csrf": csrf.group(1)} | fields)
        return self.page


class WebFormApi:
    """The Web Form 2.0 API as an app calls it; each answer must be one the spec documents, in the spec's shape."""

    def __init__(self, base_url: str, token: str) -> None:
        self.base_url = base_url
        self.token = token

    def _headers(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"} | (extra or {})

    def _checked(self, answer: httpx.Response) -> httpx.Response:
        path = urlsplit(str(answer.request.url)).path
        assert_answer_conforms(answer.request.method, path, answer.status_code, answer.json())
        assert answer.headers.get("X-Request-Id"), "every answer carries X-Request-Id"
        return answer

    def create(self, body: Any, headers: dict[str, str] | None = None) -> httpx.Response:
        url = f"{self.base_url}/api/tasks/backgroundUpdate"
        return self._checked(httpx.post(url, json=body, headers=self._headers(headers)))

    def task(self, task_id: str) -> httpx.Response:
        return self._checked(httpx.get(f"{self.base_url}/api/tasks/{task_id}", headers=self._headers()))

    def web_form(self, web_form_id: str) -> httpx.Response:
        return self._checked(httpx.get(f"{self.base_url}/api/webForms/{web_form_id}", headers=self._headers()))


@dataclass
class Received:
    method: str
    path: str
    query: str
    body: Any


@dataclass
class Receiver:
    """A loopback HTTP server standing in for the application: takes callbacks (POST) and the user's return (GET)."""

    base_url: str
    received: list[Received] = field(default_factory=list)
    condition: threading.Condition = field(default_factory=threading.Condition)
    forwards: dict[str, str] = field(default_factory=dict)  # path -> URL a GET there is sent on to, query kept

    def forward(self, name: str, to: str) -> str:
        """Answer GET /<name> with a redirect to `to` plus the request's query (a licensed mandator's bank return)."""
        self.forwards[f"/{name}"] = to
        return self.url(name)

    def url(self, name: str) -> str:
        return f"{self.base_url}/{name}"

    def posts(self, path: str | None = None) -> list[Received]:
        with self.condition:
            return [r for r in self.received if r.method == "POST" and (path is None or r.path == path)]

    def wait_for(self, predicate: Callable[[list[Received]], bool], timeout: float = 15) -> list[Received]:
        with self.condition:
            self.condition.wait_for(lambda: predicate(self.received), timeout)
            return list(self.received)


@contextmanager
def running_receiver() -> Iterator[Receiver]:
    receiver: Receiver

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _record(self, method: str) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            url = urlsplit(self.path)
            body = json.loads(raw) if raw else None
            with receiver.condition:
                receiver.received.append(Received(method, url.path, url.query, body))
                receiver.condition.notify_all()
            forward = receiver.forwards.get(url.path)
            if method == "GET" and forward is not None:
                self.send_response(302)
                self.send_header("Location", f"{forward}?{url.query}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            page = b"<!doctype html><html lang='en'><title>App</title><h1 id='app'>Back in the app</h1></html>"
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(page)))
            self.end_headers()
            self.wfile.write(page)

        def do_GET(self) -> None:
            self._record("GET")

        def do_POST(self) -> None:
            self._record("POST")

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    receiver = Receiver(f"http://127.0.0.1:{server.server_address[1]}")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()


def user_token(access_base_url: str, client_id: str, client_secret: str, username: str, password: str) -> str:
    answer = httpx.post(
        f"{access_base_url}/oauth/token",
        data={
            "grant_type": "password",
            "client_id": client_id,
            "client_secret": client_secret,
            "username": username,
            "password": password,
        },
    )
    assert answer.status_code == 200, answer.text
    return str(answer.json()["access_token"])


@dataclass
class FinapiUser:
    username: str
    token: str
    api: WebFormApi
    connections: dict[str, int]


def new_finapi_user(access: Any, webform_base_url: str, **connections: dict[str, Any]) -> FinapiUser:
    """A fresh finAPI user whose connections are named: ``new_finapi_user(access, url, main={"bank_blz": ...})``."""
    username, password = f"user-{uuid.uuid4().hex[:10]}", "pw"
    access.world.create_user(username, password)
    made = {name: access.world.add_connection(username, **options) for name, options in connections.items()}
    token = user_token(access.base_url, access.client_id, access.client_secret, username, password)
    return FinapiUser(username, token, WebFormApi(webform_base_url, token), made)


def wait_for_status(webform: Any, api: WebFormApi, task_id: str, *statuses: str) -> dict[str, Any]:
    """Wait (bounded) until the simulator's task has one of `statuses`, then read it once through the API.

    Waiting on the simulator's state instead of polling the API keeps tests within finAPI's once-a-second rule."""
    task = webform.engine.tasks[task_id]
    assert webform.wait_until(lambda: task.status in statuses), f"task still {task.status}"
    body: dict[str, Any] = api.task(task_id).json()
    assert body["status"] in statuses, body
    return body


def assert_callback_body(body: Any) -> None:
    assert_conforms(body, "TaskCallback")
