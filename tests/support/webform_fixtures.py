"""Fixtures for the Web Form 2.0 simulator's suites (imported by tests/sandbox/webform and tests/browser)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from finapi_sandbox import SandboxConfig, SandboxServer
from finapi_sandbox.webform import WebFormConfig, WebFormServer
from tests.support.webform import FinapiUser, Receiver, new_finapi_user, running_receiver


@pytest.fixture(scope="module")
def access() -> Iterator[SandboxServer]:
    # The web form asks about decoupled approvals at every page refresh here (make_webform below), so the Access
    # sandbox's 5 s pace for decoupled polls is off, as in every other suite (tests/conftest.py).
    settings = {"download_seconds": 0.3, "categorization_seconds": 0.1, "decoupled_min_interval_seconds": 0.0}
    config = SandboxConfig.default().model_copy(update=settings)
    with SandboxServer(config) as server:
        yield server


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    with running_receiver() as running:
        yield running


@pytest.fixture
def make_webform(access: SandboxServer) -> Iterator[Callable[..., WebFormServer]]:
    """A Web Form server with these config fields; loopback http callbacks allowed (the receiver is plain http), and
    decoupled approvals asked about at every page refresh (finAPI's 5 s pace would only slow the tests down)."""
    started: list[WebFormServer] = []

    def make(**config: Any) -> WebFormServer:
        defaults = {"allow_http_loopback_urls": True, "decoupled_poll_seconds": 0}
        server = WebFormServer(access, WebFormConfig(**(defaults | config))).start()
        started.append(server)
        return server

    yield make
    for server in started:
        server.stop()
    access.world.set_clock_offset(0)
    access.world.clear_faults()


@pytest.fixture
def webform(make_webform: Callable[..., WebFormServer]) -> WebFormServer:
    return make_webform()


@pytest.fixture
def make_user(access: SandboxServer, webform: WebFormServer) -> Callable[..., FinapiUser]:
    """``make_user(main={"bank_blz": "DEMO0002"})``: a finAPI user with named connections, and an API client for the
    `webform` fixture's server (or the one given as `server`)."""

    def make(server: WebFormServer | None = None, **connections: dict[str, Any]) -> FinapiUser:
        return new_finapi_user(access, (server or webform).base_url, **connections)

    return make
