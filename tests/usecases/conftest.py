"""The use-case suite: every use case over the in-memory ports, finAPI played by the sandbox simulator over loopback
HTTP. No moto, no AWS: time is a manual clock that the sandbox's clock follows, so minutes of downloads, windows and
deadlines pass in no time."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from finapi_sandbox import SandboxConfig, SandboxServer
from tests.fakes import InMemoryUserStore, ManualClock
from tests.usecases.system import System, access_gateway, settings_for


@pytest.fixture(scope="package")
def finapi() -> Iterator[SandboxServer]:
    # Downloads of 4 s and categorization of 2 s (virtual time): long enough for several polls, free in real time.
    config = SandboxConfig.default().model_copy(update={"download_seconds": 4.0, "categorization_seconds": 2.0})
    with SandboxServer(config, host="127.0.0.1", port=0) as server:
        yield server


def clock_following(finapi: SandboxServer) -> ManualClock:
    """A manual clock starting at the sandbox's now; the sandbox's clock moves whenever it does."""
    world = finapi.world
    clock = ManualClock(world.now())
    clock.on_advance.append(lambda seconds: world.set_clock_offset(world.clock_offset + seconds))
    return clock


@pytest.fixture
def system(finapi: SandboxServer) -> Iterator[System]:
    clock = clock_following(finapi)
    settings = settings_for(finapi)
    users = InMemoryUserStore()
    yield System(finapi, clock, settings, access_gateway(finapi, settings, clock, users), users)
    finapi.world.clear_faults()
