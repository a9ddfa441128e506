"""The sandbox spoken to in finAPI's own terms: raw HTTP as finAPI's spec spells it, no client of ours in between."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from finapi_sandbox import SandboxConfig, SandboxServer
from tests.conftest import SANDBOX_TEST_SETTINGS

DEMO = [{"label": "Onlinebanking-ID", "value": "demo"}, {"label": "PIN", "value": "demo"}]
NO_SCA = [{"label": "Onlinebanking-ID", "value": "demo_no_msa"}, {"label": "PIN", "value": "demo_no_msa"}]
PSU = {"PSU-IP-Address": "203.0.113.1", "PSU-Device-OS": "iOS 17", "PSU-User-Agent": "BankApp/2.1"}


@pytest.fixture(scope="module")
def sandbox() -> Iterator[SandboxServer]:
    config = SandboxConfig.default().model_copy(
        update={"download_seconds": 0.2, "categorization_seconds": 0.2} | SANDBOX_TEST_SETTINGS
    )
    with SandboxServer(config) as server:
        yield server


@dataclass
class Finapi:
    """finAPI's endpoints on the sandbox, called by hand."""

    sandbox: SandboxServer

    @property
    def base(self) -> str:
        return self.sandbox.base_url

    def token_answer(self, **form: str) -> httpx.Response:
        credentials = {"client_id": self.sandbox.client_id, "client_secret": self.sandbox.client_secret}
        return httpx.post(f"{self.base}/oauth/token", data=credentials | form)

    def user_token(self, username: str, password: str = "pw") -> str:
        answer = self.token_answer(grant_type="password", username=username, password=password)
        assert answer.status_code == 200, answer.text
        return str(answer.json()["access_token"])

    def client_token(self) -> str:
        return str(self.token_answer(grant_type="client_credentials").json()["access_token"])

    def get(self, path: str, token: str, **options: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token}"} | options.pop("headers", {})
        return httpx.get(f"{self.base}{path}", headers=headers, **options)

    def update(
        self, token: str, body: dict[str, Any], *, headers: dict[str, str] | None = None, version: str = "v1"
    ) -> httpx.Response:
        return httpx.post(
            f"{self.base}/api/{version}/bankConnections/update",
            json=body,
            headers={"Authorization": f"Bearer {token}"} | (headers or {}),
        )


@pytest.fixture
def finapi(sandbox: SandboxServer) -> Finapi:
    return Finapi(sandbox)


@dataclass
class Owner:
    """A finAPI user with one bank connection, and a token for it."""

    username: str
    token: str
    connection: int


@pytest.fixture
def owner(sandbox: SandboxServer, finapi: Finapi) -> Callable[..., Owner]:
    def make(**connection: Any) -> Owner:
        username = f"u-{uuid.uuid4().hex[:8]}"
        sandbox.world.create_user(username, "pw")
        connection_id = sandbox.world.add_connection(username, **connection)
        return Owner(username, finapi.user_token(username), connection_id)

    return make


def first_error(answer: httpx.Response) -> dict[str, Any]:
    errors: list[dict[str, Any]] = answer.json()["errors"]
    return errors[0]


def challenge(answer: httpx.Response) -> dict[str, Any]:
    assert answer.status_code == 510, answer.text
    msa: dict[str, Any] = first_error(answer)["multiStepAuthentication"]
    return msa
