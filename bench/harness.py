"""The system as the benchmarks drive it: the finAPI sandbox, the local stack, and a banking app's user over HTTP."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import httpx

from finapi_sandbox import SandboxConfig, SandboxServer
from finapi_sandbox.webform import WebFormConfig, WebFormServer
from local_stack import LocalStack

ROOT = Path(__file__).resolve().parents[1]  # the layer is on the path: bench/__init__.py
RESULTS = ROOT / "bench" / "results"
# The operator's calls (register a user, sync connections) wait for finAPI and moto like everything else on a loaded
# machine: the bench, not the service, would fail first at httpx's 5 s default.
ADMIN_TIMEOUT_SECONDS = 60
DEMO = [{"label": "Onlinebanking-ID", "value": "demo"}, {"label": "PIN", "value": "demo"}]
NO_SCA = [{"label": "Onlinebanking-ID", "value": "demo_no_msa"}, {"label": "PIN", "value": "demo_no_msa"}]


@contextmanager
def running_system(
    *,
    wait_scale: float,
    env: dict[str, str] | None = None,
    sandbox_config: dict[str, Any] | None = None,
    integration: str = "ACCESS",
    **params: str,
) -> Iterator[tuple[LocalStack, SandboxServer]]:
    """The finAPI sandbox (and, for ``integration="WEB_FORM"``, finAPI Web Form 2.0 beside it) and the local stack."""
    config = SandboxConfig.default().model_copy(update=sandbox_config or {})
    with ExitStack() as running:
        sandbox = running.enter_context(SandboxServer(config))
        integration_params: dict[str, str] = {"Integration": integration}
        if integration == "WEB_FORM":
            webform = running.enter_context(
                WebFormServer(sandbox, WebFormConfig(allow_http_loopback_urls=True, decoupled_poll_seconds=0))
            )
            integration_params["WebFormBaseUrl"] = webform.base_url
        stack = running.enter_context(
            LocalStack(
                ROOT / "template.yaml",
                parameter_overrides={
                    "FinapiBaseUrl": sandbox.base_url,
                    "JwtIssuer": "https://issuer.bench",
                    "JwtAudience": "bench",
                    **integration_params,
                    **params,
                },
                api_port=0,
                wait_scale=wait_scale,
                secrets={
                    "FinapiClientSecret": json.dumps(
                        {"clientId": sandbox.client_id, "clientSecret": sandbox.client_secret}
                    )
                },
                env_overrides={"POWERTOOLS_LOG_LEVEL": "WARNING", **(env or {})},
            )
        )
        yield stack, sandbox


class BankUser:
    """One app user with a finAPI user and one connection in the sandbox."""

    def __init__(self, stack: LocalStack, sandbox: SandboxServer, **connection: Any) -> None:
        suffix = uuid.uuid4().hex[:8]
        self.sub, username = f"bench-{suffix}", f"finapi-bench-{suffix}"
        self.finapi_username = username  # more connections of the user: sandbox.world.add_connection(it, ...)
        sandbox.world.create_user(username, "pw")
        self.connection = sandbox.world.add_connection(username, **connection)
        url = f"{stack.api_url}/v1/admin/users/{self.sub}/finapi-user"
        body = json.dumps({"finapiUsername": username, "finapiPassword": "pw"}).encode()
        headers = stack.admin_headers("PUT", url, body) | {"content-type": "application/json"}
        httpx.put(url, content=body, headers=headers, timeout=ADMIN_TIMEOUT_SECONDS).raise_for_status()
        token = stack.issue_token(sub=self.sub)
        self.http = httpx.Client(base_url=stack.api_url, headers={"Authorization": f"Bearer {token}"}, timeout=30)
        self.stack = stack

    def sync(self) -> BankUser:
        """The operator registers the user's connections (the service then knows them: the usual case of a trigger)."""
        url = f"{self.stack.api_url}/v1/admin/users/{self.sub}/connections/sync"
        headers = self.stack.admin_headers("POST", url, b"")
        httpx.post(url, headers=headers, timeout=ADMIN_TIMEOUT_SECONDS).raise_for_status()
        return self

    def trigger(self, body: dict[str, Any]) -> dict[str, Any]:
        answer: dict[str, Any] = self.http.post(f"/v1/bank-connections/{self.connection}/updates", json=body).json()
        return answer

    def answer(self, update_id: str, body: dict[str, Any]) -> dict[str, Any]:
        answer = self.http.post(f"/v1/updates/{update_id}/authentication", json=body)
        result: dict[str, Any] = answer.json()
        return result

    def update(self, update_id: str) -> dict[str, Any]:
        result: dict[str, Any] = self.http.get(f"/v1/updates/{update_id}").json()
        return result


def execution_arn(stack: LocalStack, update_id: str) -> str:
    machine = stack.physical_id("UpdateConnectionStateMachine")
    return machine.replace(":stateMachine:", ":execution:") + f":{update_id}"


def execution_history(stack: LocalStack, update_id: str, timeout: float = 60) -> list[dict[str, Any]]:
    """The events of the update's (Standard) execution, once it has ended (or ``timeout`` passed)."""
    sfn = stack.boto3_client("stepfunctions")
    arn = execution_arn(stack, update_id)
    deadline = time.monotonic() + timeout
    while sfn.describe_execution(executionArn=arn)["status"] == "RUNNING" and time.monotonic() < deadline:
        time.sleep(0.1)
    events: list[dict[str, Any]] = []
    token: dict[str, str] = {}
    while True:
        page = sfn.get_execution_history(executionArn=arn, maxResults=1000, **token)
        events += page["events"]
        if not page.get("nextToken"):
            break
        token = {"nextToken": page["nextToken"]}
    return events


def executions(stack: LocalStack) -> set[str]:
    """Names (update ids) of every execution so far."""
    sfn = stack.boto3_client("stepfunctions")
    machine = stack.physical_id("UpdateConnectionStateMachine")
    names: set[str] = set()
    for page in sfn.get_paginator("list_executions").paginate(stateMachineArn=machine):
        names |= {e["name"] for e in page["executions"]}
    return names


def enable_schedule(stack: LocalStack, user: BankUser) -> None:
    """The operator registers the user's connections; the user opts this one in to background updates."""
    url = f"{stack.api_url}/v1/admin/users/{user.sub}/connections/sync"
    httpx.post(url, headers=stack.admin_headers("POST", url, b""), timeout=ADMIN_TIMEOUT_SECONDS).raise_for_status()
    user.http.put(f"/v1/bank-connections/{user.connection}/schedule", json={"enabled": True}).raise_for_status()


def duration_label(seconds: float) -> str:
    """A download's length as the reports name it (5 s, 60 s, 10 min)."""
    return f"{seconds / 60:g} min" if seconds >= 120 else f"{seconds:g} s"
