"""HTTP on loopback for both simulators (Access and Web Form 2.0): a request in, an answer out, on a thread of its own.

Each simulator is a function from `Request` to `Answer`; this module reads requests, writes answers, drops a
connection when an injected fault says so, and starts and stops the server.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self
from urllib.parse import parse_qs, urlsplit

from pydantic import ValidationError

# finAPI's limit on `X-Request-Id`, the same in Access and Web Form 2.0.
MAX_REQUEST_ID = 255
# How long `stop()` may wait for the serving thread to notice.
SHUTDOWN_POLL_SECONDS = 0.05


class Dropped(Exception):
    """Close the connection without answering (an injected network fault)."""


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    query: str  # as sent, undecoded
    headers: Message  # names case-insensitive
    body: bytes
    client_ip: str

    @property
    def query_values(self) -> dict[str, list[str]]:
        return parse_qs(self.query)

    @property
    def parameters(self) -> dict[str, str]:
        """The query's first value of each name."""
        return first_values(self.query)

    @property
    def form(self) -> dict[str, str]:
        """A form body's (`application/x-www-form-urlencoded`) first value of each name."""
        return first_values(self.body.decode(errors="replace"))


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)  # `Content-Type` with any body


def json_answer(status: int, payload: Any, headers: dict[str, str] | None = None) -> Answer:
    """``payload`` as JSON; ``None``: no body."""
    if payload is None:
        return Answer(status, b"", dict(headers or {}))
    return Answer(status, json.dumps(payload).encode(), (headers or {}) | {"Content-Type": "application/json"})


def html_answer(status: int, html: str, headers: dict[str, str] | None = None) -> Answer:
    return Answer(status, html.encode(), (headers or {}) | {"Content-Type": "text/html; charset=utf-8"})


def see_other(location: str) -> Answer:
    return Answer(303, b"", {"Location": location})


def first_values(encoded: str) -> dict[str, str]:
    return {name: values[0] for name, values in parse_qs(encoded).items()}


def bearer_token(authorization: str) -> str:
    """The token of an ``Authorization: Bearer ...`` header; empty for anything else."""
    return authorization[7:] if authorization.lower().startswith("bearer ") else ""


def route_control(request: Request, route: Callable[[Request, Any], Answer | None]) -> Answer:
    """A test's call of a `/sandbox/...` endpoint: ``route`` answers it with its JSON body, or knows no such endpoint
    (None). A body that does not parse or validate, or names something that does not exist, is a 400 saying why."""
    try:
        answer = route(request, json.loads(request.body) if request.body else {})
    except (ValidationError, ValueError, KeyError) as error:
        return json_answer(400, {"error": str(error)[:500]})
    return answer or json_answer(404, {"error": f"no control endpoint {request.method} {request.path}"})


class _Handler(BaseHTTPRequestHandler):
    server: _LoopbackServer
    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes; with Nagle's algorithm the body waits for the client's delayed ACK
    # (about 40 ms on Linux) on every kept-alive request.
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:
        pass  # quiet: tests and the demo print what matters

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def do_PUT(self) -> None:
        self._serve()

    def do_PATCH(self) -> None:
        self._serve()

    def do_DELETE(self) -> None:
        self._serve()

    def _serve(self) -> None:
        url = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        # Read whatever the answer, so that the next request on a kept-alive connection starts where it should.
        body = self.rfile.read(length) if length else b""
        request = Request(self.command, url.path, url.query, self.headers, body, self.client_address[0])
        try:
            answer = self.server.answer(request)
        except Dropped:
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)
            return
        self.send_response(answer.status)
        for name, value in answer.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(answer.body)))
        self.end_headers()
        self.wfile.write(answer.body)


class _LoopbackServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128  # bursts of parallel clients must queue, not be reset

    def __init__(self, address: tuple[str, int], answer: Callable[[Request], Answer]) -> None:
        super().__init__(address, _Handler)
        self.answer = answer


class LoopbackService:
    """A simulator served on its own thread: ``with Service(...) as running: running.base_url``."""

    thread_name = "sandbox"

    def __init__(self, answer: Callable[[Request], Answer], host: str, port: int) -> None:
        self._server = _LoopbackServer((host, port), answer)
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        address = self._server.server_address
        host = address[0].decode() if isinstance(address[0], bytes) else address[0]
        return f"http://{host}:{address[1]}"

    def start(self) -> Self:
        self._thread = threading.Thread(target=self.serve_forever, name=self.thread_name, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def serve_forever(self) -> None:
        self._server.serve_forever(poll_interval=SHUTDOWN_POLL_SECONDS)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()
