from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from pydantic import SecretStr

from bankupdate.finapi import ApiVersion, FinapiClient, FinapiUserCredentials
from finapi_sandbox import SandboxConfig, SandboxServer
from tests.conftest import SANDBOX_TEST_SETTINGS


@pytest.fixture(scope="module")
def sandbox() -> Iterator[SandboxServer]:
    config = SandboxConfig.default().model_copy(
        update={"download_seconds": 0.3, "categorization_seconds": 0.3} | SANDBOX_TEST_SETTINGS
    )
    with SandboxServer(config) as server:
        yield server


@pytest.fixture(params=[ApiVersion.V1, ApiVersion.V2], ids=["V1", "V2"])
def client(request: pytest.FixtureRequest, sandbox: SandboxServer) -> Iterator[FinapiClient]:
    with FinapiClient(
        base_url=sandbox.base_url,
        client_id=sandbox.client_id,
        client_secret=sandbox.client_secret,
        api_version=request.param,
        timeout_seconds=1.0,
        sleep=lambda _: None,
    ) as finapi:
        yield finapi


@dataclass
class SandboxUser:
    credentials: FinapiUserCredentials
    username: str


@pytest.fixture
def make_user(sandbox: SandboxServer) -> Any:
    def make(**connection: Any) -> tuple[SandboxUser, int]:
        name = f"u-{uuid.uuid4().hex[:8]}"
        sandbox.world.create_user(name, "pw")
        connection_id = sandbox.world.add_connection(name, **connection)
        return SandboxUser(FinapiUserCredentials(username=name, password=SecretStr("pw")), name), connection_id

    return make
