"""State transitions each user-present scenario takes, read from the execution histories (local stack + sandbox).

`python -m bench.transitions` writes bench/results/transitions.json and transitions.md.
"""

from __future__ import annotations

import json
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "layers" / "core"))

from finapi_sandbox import SandboxConfig, SandboxServer  # noqa: E402
from local_stack import LocalStack  # noqa: E402

RESULTS = ROOT / "bench" / "results"
DEMO = [{"label": "Onlinebanking-ID", "value": "demo"}, {"label": "PIN", "value": "demo"}]
NO_SCA = [{"label": "Onlinebanking-ID", "value": "demo_no_msa"}, {"label": "PIN", "value": "demo_no_msa"}]


class Run:
    def __init__(self, stack: LocalStack, sandbox: SandboxServer, **connection: Any) -> None:
        suffix = uuid.uuid4().hex[:8]
        self.sub, username = f"bench-{suffix}", f"finapi-bench-{suffix}"
        sandbox.world.create_user(username, "pw")
        self.connection = sandbox.world.add_connection(username, **connection)
        url = f"{stack.api_url}/v1/admin/users/{self.sub}/finapi-user"
        body = json.dumps({"finapiUsername": username, "finapiPassword": "pw"}).encode()
        httpx.put(url, content=body, headers=stack.admin_headers("PUT", url, body)).raise_for_status()
        token = stack.issue_token(sub=self.sub)
        self.http = httpx.Client(base_url=stack.api_url, headers={"Authorization": f"Bearer {token}"}, timeout=30)
        self.stack = stack

    def trigger(self, body: dict[str, Any]) -> dict[str, Any]:
        answer: dict[str, Any] = self.http.post(f"/v1/bank-connections/{self.connection}/updates", json=body).json()
        return answer

    def answer(self, update_id: str, body: dict[str, Any]) -> dict[str, Any]:
        for _ in range(100):
            answer = self.http.post(f"/v1/updates/{update_id}/authentication", json=body)
            if answer.status_code != 409 or answer.json()["error"]["code"] != "NOT_READY":
                break
            time.sleep(0.05)
        result: dict[str, Any] = answer.json()
        return result

    def states(self, update_id: str) -> list[str]:
        sfn = self.stack.boto3_client("stepfunctions")
        arn = (
            self.stack.physical_id("UpdateConnectionStateMachine").replace(":stateMachine:", ":execution:")
            + f":{update_id}"
        )
        deadline = time.monotonic() + 60
        while sfn.describe_execution(executionArn=arn)["status"] == "RUNNING" and time.monotonic() < deadline:
            time.sleep(0.1)
        events = sfn.get_execution_history(executionArn=arn, maxResults=1000)["events"]
        return [e["stateEnteredEventDetails"]["name"] for e in events if "stateEnteredEventDetails" in e]


def scenarios() -> dict[str, tuple[dict[str, Any], Callable[[Run], str]]]:
    def plain(run: Run) -> str:
        return str(run.trigger({"interface": "XS2A", "loginCredentials": NO_SCA})["updateId"])

    def tan(run: Run, wrong_first: bool = False) -> str:
        update = run.trigger({"interface": "XS2A", "loginCredentials": DEMO})["updateId"]
        run.answer(update, {"twoStepProcedureId": "901"})
        if wrong_first:
            run.answer(update, {"challengeResponse": "000000"})
        run.answer(update, {"challengeResponse": "123456"})
        return str(update)

    def decoupled(run: Run) -> str:
        update = run.trigger({"interface": "XS2A", "loginCredentials": DEMO})["updateId"]
        run.answer(update, {"twoStepProcedureId": "905"})
        while run.answer(update, {"decoupledCallback": True})["status"] == "AUTHENTICATION_REQUIRED":
            pass
        return str(update)

    def redirect(run: Run) -> str:
        started = run.trigger({"interface": "XS2A", "redirectUrl": "https://app.example/cb"})
        bank = httpx.get(started["authentication"]["redirectUrl"], follow_redirects=False)
        run.answer(started["updateId"], {"redirectCallback": httpx.URL(bank.headers["location"]).query.decode()})
        return str(started["updateId"])

    def credentials_then_store(run: Run) -> str:
        started = run.trigger({"interface": "XS2A"})
        run.answer(started["updateId"], {"loginCredentials": NO_SCA, "storeSecrets": True})
        return str(started["updateId"])

    def never_answers(run: Run) -> str:
        return str(run.trigger({"interface": "XS2A", "loginCredentials": DEMO})["updateId"])

    return {
        "no SCA (poll loop only)": ({}, plain),
        "procedure choice -> TAN": ({}, tan),
        "wrong TAN then right TAN": ({}, lambda run: tan(run, wrong_first=True)),
        "decoupled (2 IN_PROGRESS rounds)": ({}, decoupled),
        "redirect bank": ({"bank_blz": "DEMO0002", "consent_expires_at": None}, redirect),
        "credentials asked, storeSecrets": ({"consent_expires_at": None}, credentials_then_store),
        "importNewAccounts": (
            {},
            lambda run: str(run.trigger({"interface": "XS2A", "importNewAccounts": True})["updateId"]),
        ),
        "categorization awaited": (
            {},
            lambda run: str(run.trigger({"interface": "XS2A", "waitForCategorization": True})["updateId"]),
        ),
        "user never answers (EXPIRED)": ({}, never_answers),
        "download outlives deadline (TIMED_OUT)": (
            {"download_seconds": 60},
            lambda run: str(run.trigger({"interface": "XS2A"})["updateId"]),
        ),
    }


def main() -> None:
    # Wait states run at 1/10 speed, so 0.8 s of sandbox download is an 8 s download in workflow time.
    config = SandboxConfig.default().model_copy(update={"download_seconds": 0.8, "categorization_seconds": 0.5})
    results = []
    with (
        SandboxServer(config) as sandbox,
        LocalStack(
            ROOT / "template.yaml",
            parameter_overrides={
                "FinapiBaseUrl": sandbox.base_url,
                "JwtIssuer": "https://issuer.bench",
                "JwtAudience": "bench",
                "AuthenticationWindowSeconds": "3",
                "UpdateDeadlineSeconds": "20",
            },
            api_port=0,
            wait_scale=0.1,
            secrets={
                "FinapiClientSecret": json.dumps({"clientId": sandbox.client_id, "clientSecret": sandbox.client_secret})
            },
            env_overrides={
                "POWERTOOLS_TRACE_DISABLED": "true",
                "POWERTOOLS_LOG_LEVEL": "WARNING",
                "DECOUPLED_MIN_INTERVAL_SECONDS": "0",
            },
        ) as stack,
    ):
        for name, (connection, play) in scenarios().items():
            run = Run(stack, sandbox, **connection)
            update_id = play(run)
            states = run.states(update_id)
            status = run.http.get(f"/v1/updates/{update_id}").json()["status"]
            results.append({"scenario": name, "status": status, "transitions": len(states), "states": states})
            print(f"{name:<42} {status:<10} {len(states):>3}  {' > '.join(states)}", flush=True)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "transitions.json").write_text(json.dumps(results, indent=2) + "\n")
    lines = ["| scenario | outcome | states entered | path |", "|---|---|---|---|"]
    lines += [f"| {r['scenario']} | {r['status']} | {r['transitions']} | {' → '.join(r['states'])} |" for r in results]
    (RESULTS / "transitions.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
