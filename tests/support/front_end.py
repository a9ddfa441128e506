"""The demo user of the reference front end, on a whole local stack serving frontend/ at its root (browser tests)."""

from __future__ import annotations

import functools
import socket
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
from playwright.sync_api import Page, expect

from local_stack import FrontEnd
from tests.conftest import ROOT, register_finapi_user, running_stack
from tests.support.api_client import BankUpdateApi
from tests.support.browser import BrowserPage

NO_CONSENT: dict[str, Any] = {"consent_expires_at": None}


@dataclass
class DemoUser:
    """The user the front end signs in as, with a finAPI user of their own in the sandbox."""

    sub: str
    finapi_username: str
    stack: Any
    sandbox: Any

    @property
    def url(self) -> str:
        """The front end's page: at the API's root, or on its own origin (``demo_user(..., cross_origin=True)``)."""
        return f"{self.stack.front_end_url or self.stack.api_url}/"

    def add_connection(self, **options: Any) -> int:
        """A new connection at finAPI, synced by the operator so the user's list shows it."""
        connection: int = self.sandbox.world.add_connection(self.finapi_username, **options)
        url = f"{self.stack.api_url}/v1/admin/users/{self.sub}/connections/sync"
        synced = httpx.post(url, headers=self.stack.admin_headers("POST", url, b""))
        assert synced.status_code == 200 and connection in synced.json()["connectionIds"], synced.text
        return connection

    def api(self) -> BankUpdateApi:
        return BankUpdateApi(self.stack.api_url, self.stack.issue_token(sub=self.sub))


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def demo_user(
    sandbox: Any, name: str, *, env: dict[str, str] | None = None, cross_origin: bool = False, **parameters: str
) -> Iterator[DemoUser]:
    """A stack serving the front end on a port of its own (the app's redirect target), and its signed-up user.

    ``cross_origin``: the front end on an origin of its own, the API on another port; the stack allows the front
    end's origin (AllowedOrigins) unless ``parameters`` say otherwise."""
    port = _free_port()
    suffix = uuid.uuid4().hex[:8]
    sub, username, password = f"{name}-{suffix}", f"finapi-{name}-{suffix}", f"pw-{suffix}"
    origin = f"http://127.0.0.1:{port}"
    template_parameters: dict[str, Any] = {"AllowedRedirectUrls": f"{origin}/"}
    if cross_origin:
        template_parameters["AllowedOrigins"] = origin
    template_parameters |= parameters
    front_end = FrontEnd(ROOT / "frontend", sub, port=port if cross_origin else None)
    api_port = 0 if cross_origin else port
    with running_stack(sandbox, api_port=api_port, front_end=front_end, env=env, **template_parameters) as stack:
        sandbox.world.create_user(username, password)
        register_finapi_user(stack, sub, username, password)
        yield DemoUser(sub, username, stack, sandbox)


def signed_in(web: BrowserPage, demo: DemoUser, connection: int) -> Page:
    """The front end after the demo user signed in, showing ``connection``."""
    page = web.page
    page.goto(demo.url)
    page.click("#sign-in-button")
    expect(page.locator(f"#connection-{connection}")).to_be_visible()
    return page


@contextmanager
def bare_front_end() -> Iterator[str]:
    """frontend/ served by a plain static file server on loopback, with no security headers at all: what the pages
    protect by themselves (their <meta> policy) shows here. Yields the base URL."""

    class Quiet(SimpleHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(ROOT / "frontend")))
    threading.Thread(target=server.serve_forever, name="bare-front-end", daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
