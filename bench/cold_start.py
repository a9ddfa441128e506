"""Cold starts as the user and the bill see them: INIT plus the first invocation, per function, against the floor
``import boto3; boto3.client("dynamodb")`` measured in the same run.

Each sample is a fresh interpreter (bench/cold_probe.py) with the function's environment from the template, pointed
at a running local stack (moto and the finAPI sandbox, in this process). It imports the handler module (INIT) and
then handles one realistic event: the state that event needs (a registered user, a synced connection, an update
waiting for its answer or downloading) is prepared here first, over the API like a user would, and HTTP events are
the very events the local HTTP API builds. Functions and the floor take turns round by round, so machine noise hits
them alike. Both clocks are kept: CPU time (user + system) of the process, and wall-clock, which also holds the
waits on moto and the sandbox (in AWS: network round-trips).

Functions whose first invocation differs in Web Form 2.0 mode (the trigger, a scheduled start, a poll, finAPI's
callback) are measured again on a stack in that mode. Every function of the template is probed (decision D26: the
poll loop's PollUpdateStatus, the workflow's ParkTaskToken and Finalize among them).

`python -m bench.cold_start` writes bench/results/cold_start.json and cold_start.md (BENCH_COLD_ROUNDS, default 9).
"""

from __future__ import annotations

import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from unittest import mock

import httpx

from bench.harness import DEMO, NO_SCA, RESULTS, ROOT, BankUser, running_system
from local_stack import LocalStack
from local_stack.http_api import LOCAL_ACCESS_KEY, LOCAL_SECRET_KEY
from local_stack.lambdas import LocalFunction
from local_stack.template import ACCOUNT_ID, REGION

TARGET_RATIO = 2.0
# The layer's third-party packages as the layer ships them (layers/core/requirements.txt), installed for this
# interpreter: the probe loads exactly these, not the development virtualenv (where httpx alone would also load
# click, rich and pygments for its command line, ~30 ms the layer does not have).
LAYER_SITE = ROOT / ".bench-layer"
FLOOR = "floor"
PROBE = ROOT / "bench" / "cold_probe.py"
LAYER = ROOT / "layers" / "core"
ACCESS_FUNCTIONS = (
    "admin",
    "collect_credentials",
    "connection_settings",
    "finalize",
    "park_task_token",
    "poll_update_status",
    "query",
    "reconcile_stale_updates",
    "schedule_updates",
    "start_scheduled_update",
    "trigger_update",
)
WEB_FORM_FUNCTIONS = ("poll_update_status", "start_scheduled_update", "trigger_update", "webform_callback")


def _function(stack: LocalStack, function_dir: str) -> LocalFunction:
    """The stack's function whose code is ``functions/<function_dir>``."""
    return next(f for f in stack.runtime.functions.values() if Path(f.code_dir).name == function_dir)


@contextmanager
def _captured(logical_id: str) -> Iterator[dict[str, Any]]:
    """The first HTTP event the local HTTP API hands ``logical_id`` while this is open; that invocation is answered
    with a bare 204 instead of running (the event is for the probe)."""
    holder: dict[str, Any] = {}
    run = LocalFunction.run

    def capture(function: LocalFunction, event: Any, context: Any, abandoned: Any) -> Any:
        if function.logical_id == logical_id and "event" not in holder and "requestContext" in event:
            holder["event"] = event
            return {"statusCode": 204, "body": ""}
        return run(function, event, context, abandoned)

    with mock.patch.object(LocalFunction, "run", capture):
        yield holder


def _scheduler_event(name: str) -> dict[str, Any]:
    return {
        "version": "0",
        "id": uuid.uuid4().hex,
        "detail-type": "Scheduled Event",
        "source": "aws.scheduler",
        "account": ACCOUNT_ID,
        "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": REGION,
        "resources": [f"arn:aws:scheduler:{REGION}:{ACCOUNT_ID}:schedule/default/{name}"],
        "detail": "{}",
    }


def _sqs_event(queue: str, body: str) -> dict[str, Any]:
    now = str(int(time.time() * 1000))
    return {
        "Records": [
            {
                "messageId": str(uuid.uuid4()),
                "receiptHandle": uuid.uuid4().hex,
                "body": body,
                "attributes": {
                    "ApproximateReceiveCount": "1",
                    "SentTimestamp": now,
                    "SenderId": "AIDALOCALSTACK",
                    "ApproximateFirstReceiveTimestamp": now,
                },
                "messageAttributes": {},
                "md5OfBody": "",
                "eventSource": "aws:sqs",
                "eventSourceARN": f"arn:aws:sqs:{REGION}:{ACCOUNT_ID}:{queue}",
                "awsRegion": REGION,
            }
        ]
    }


class Scenarios:
    """For each function, the state its first invocation needs, and the event that invocation gets."""

    def __init__(self, stack: LocalStack, sandbox: Any, integration: str) -> None:
        self.stack = stack
        self.sandbox = sandbox
        self.integration = integration
        self.web_form = integration == "WEB_FORM"
        self.open_updates: list[str] = []  # downloading updates a poll was measured on, for Finalize to end

    # ------------------------------------------------------------------------------------------------- helpers

    def _user(self, **connection: Any) -> BankUser:
        return BankUser(self.stack, self.sandbox, **connection)

    def _sync(self, user: BankUser) -> None:
        url = f"{self.stack.api_url}/v1/admin/users/{user.sub}/connections/sync"
        httpx.post(url, headers=self.stack.admin_headers("POST", url, b"")).raise_for_status()

    def _http(self, logical_id: str, send: Callable[[], Any], timeout: float = 15) -> dict[str, Any]:
        with _captured(logical_id) as holder:
            send()
            deadline = time.monotonic() + timeout
            while "event" not in holder:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"no HTTP event reached {logical_id}")
                time.sleep(0.02)
        event: dict[str, Any] = holder["event"]
        return event

    def _start_body(self, credentials: list[dict[str, str]] | None) -> dict[str, Any]:
        if self.web_form:
            return {}
        return {"interface": "XS2A", "loginCredentials": credentials} if credentials else {"interface": "XS2A"}

    def _updates(self) -> Any:
        from bankupdate.stores.updates import DynamoUpdateStore

        return DynamoUpdateStore(self.stack.physical_id("StateTable"), timedelta(days=1), 4)

    def _downloading(self) -> tuple[BankUser, str]:
        """A user-present update whose download runs for ten minutes."""
        user = self._user(download_seconds=600, stored_pin=True)
        self._sync(user)
        update_id = str(user.trigger(self._start_body(NO_SCA))["updateId"])
        user.http.close()
        deadline = time.monotonic() + 10
        while (stored := self._updates().get(update_id)) is None or stored.record.status.value != "IN_PROGRESS":
            if time.monotonic() > deadline:
                raise TimeoutError(f"update {update_id} is not downloading")
            time.sleep(0.05)
        return user, update_id

    # ------------------------------------------------------------------------------------------------ functions

    def trigger_update(self) -> dict[str, Any]:
        user = self._user(download_seconds=1, stored_pin=True)
        self._sync(user)  # the common case: a connection the service knows
        body = self._start_body(NO_SCA)
        url = f"/v1/bank-connections/{user.connection}/updates"
        return self._http("TriggerUpdateFunction", lambda: user.http.post(url, json=body))

    def collect_credentials(self) -> dict[str, Any]:
        user = self._user(download_seconds=1)
        self._sync(user)
        update_id = user.trigger(self._start_body(DEMO))["updateId"]  # the bank asks for a TAN procedure
        url = f"/v1/updates/{update_id}/authentication"
        return self._http("CollectCredentialsFunction", lambda: user.http.post(url, json={"twoStepProcedureId": "901"}))

    def query(self) -> dict[str, Any]:
        user = self._user(download_seconds=1, stored_pin=True)
        update_id = user.trigger(self._start_body(NO_SCA))["updateId"]
        return self._http("QueryFunction", lambda: user.http.get(f"/v1/updates/{update_id}"))

    def connection_settings(self) -> dict[str, Any]:
        user = self._user()
        self._sync(user)
        url = f"/v1/bank-connections/{user.connection}/schedule"
        return self._http("ConnectionSettingsFunction", lambda: user.http.put(url, json={"enabled": True}))

    def admin(self) -> dict[str, Any]:
        username = f"finapi-cold-{uuid.uuid4().hex[:8]}"
        self.sandbox.world.create_user(username, "pw")
        url = f"{self.stack.api_url}/v1/admin/users/cold-{uuid.uuid4().hex[:8]}/finapi-user"
        body = json.dumps({"finapiUsername": username, "finapiPassword": "pw"}).encode()
        headers = self.stack.admin_headers("PUT", url, body) | {"content-type": "application/json"}
        return self._http("AdminFunction", lambda: httpx.put(url, content=body, headers=headers))

    def webform_callback(self) -> dict[str, Any]:
        # finAPI's own `finalised` callback of a short update, as the HTTP API hands it over.
        user = self._user(download_seconds=0.5)
        return self._http("WebFormCallbackFunction", lambda: user.trigger({}), timeout=30)

    def schedule_updates(self) -> dict[str, Any]:
        user = self._user(download_seconds=1, stored_pin=True)
        self._sync(user)
        user.http.put(f"/v1/bank-connections/{user.connection}/schedule", json={"enabled": True}).raise_for_status()
        return _scheduler_event("ScheduleUpdates")

    def reconcile_stale_updates(self) -> dict[str, Any]:
        return _scheduler_event("ReconcileStaleUpdates")

    def start_scheduled_update(self) -> dict[str, Any]:
        from bankupdate.contract import DueConnection

        user = self._user(download_seconds=1, stored_pin=True)
        self._sync(user)
        user.http.put(f"/v1/bank-connections/{user.connection}/schedule", json={"enabled": True}).raise_for_status()
        due = DueConnection(owner_id=user.sub, connection_id=user.connection, slot=datetime.now(UTC))
        return _sqs_event("schedule", due.model_dump_json(by_alias=True))

    def park_task_token(self) -> dict[str, Any]:
        """AwaitUser: the bank asks the user for a TAN procedure; the workflow parks its wait's token on the update."""
        from bankupdate.contract import ParkTask, WaitingTask

        user = self._user(download_seconds=1)
        self._sync(user)
        update_id = str(user.trigger(self._start_body(DEMO))["updateId"])
        user.http.close()
        deadline = time.monotonic() + 10
        while (stored := self._updates().get(update_id)) is None or stored.record.status.value != (
            "AUTHENTICATION_REQUIRED"
        ):
            if time.monotonic() > deadline:
                raise TimeoutError(f"update {update_id} does not wait for its user")
            time.sleep(0.05)
        task = ParkTask(update_id=update_id, task_token=f"cold-start-{uuid.uuid4().hex}", purpose=WaitingTask.USER)
        return task.model_dump(mode="json", by_alias=True)

    def poll_update_status(self) -> dict[str, Any]:
        """The first poll of a fresh loop at a download that runs on (a later Poll task's loop, which takes the
        update's polls over): it claims the polls, reads where the update stands, asks finAPI once and chooses the
        next gap."""
        from bankupdate.contract import PollLoopState, PollRequest

        _, update_id = self._downloading()
        self.open_updates.append(update_id)
        now = datetime.now(UTC)
        machine = self.stack.physical_id("PollLoopStateMachine")
        loop = PollLoopState(
            update_id=update_id,
            parent_token=f"cold-start-{uuid.uuid4().hex}",
            poll_task_entered_at=f"{now.isoformat(timespec='milliseconds').replace('+00:00', 'Z')}/0",
            gap_seconds=1,
        )
        execution = machine.replace(":stateMachine:", ":express:") + f":{uuid.uuid4()}:{uuid.uuid4()}"
        request = PollRequest(loop=loop, execution=execution, execution_started_at=now)
        return request.model_dump(mode="json", by_alias=True)

    def finalize(self) -> dict[str, Any]:
        """The Catch after the workflow heard nothing from its poll loop for too long, on a download that was still
        running."""
        update_id = self.open_updates.pop() if self.open_updates else self._downloading()[1]
        failure = {"Error": "States.HeartbeatTimeout", "Cause": "no heartbeat"}
        return {"updateId": update_id, "failure": failure}


def child_environment(stack: LocalStack, function_dir: str | None) -> dict[str, str]:
    """What the Lambda runtime and the template put in the function's environment, pointed at the local stack."""
    env = {
        "PATH": os.environ.get("PATH", ""),
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_ACCESS_KEY_ID": LOCAL_ACCESS_KEY,
        "AWS_SECRET_ACCESS_KEY": LOCAL_SECRET_KEY,
        "AWS_ENDPOINT_URL": stack.endpoint,
        "AWS_EXECUTION_ENV": "AWS_Lambda_python3.13",
        "_X_AMZN_TRACE_ID": "Root=1-00000000-000000000000000000000000;Parent=0000000000000000;Sampled=0",
    }
    if function_dir is None:
        return env
    function = _function(stack, function_dir)
    return (
        env
        | function.environment
        | {
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(function.memory),
            "POWERTOOLS_LOG_LEVEL": "INFO",  # the template's default: its logging is part of the cold start
        }
    )


def layer_site() -> Path:
    """The layer's pinned packages for this interpreter, installed once per set of pins."""
    requirements = (LAYER / "requirements.txt").read_text()
    stamp = LAYER_SITE / ".requirements"
    if not stamp.exists() or stamp.read_text() != requirements:
        subprocess.run(
            [sys.executable, "-m", "pip", "install", "-q", "--disable-pip-version-check", "--no-compile", "--upgrade",
             "--target", str(LAYER_SITE), "-r", str(LAYER / "requirements.txt")],
            check=True,
        )  # fmt: skip
        stamp.write_text(requirements)
    return LAYER_SITE


def sample(stack: LocalStack, subject: str, event: dict[str, Any] | None) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as scratch:
        event_path, result_path = Path(scratch) / "event.json", Path(scratch) / "result.json"
        event_path.write_text(json.dumps(event or {}))
        function_dir = None if subject == FLOOR else str(ROOT / "functions" / subject)
        function = _function(stack, subject) if function_dir else None
        memory, timeout = (function.memory, function.timeout) if function else (128, 3)
        # -I -S: no site-packages, no user paths: the probe puts the function, the layer's code and its packages first.
        arguments = [function_dir or FLOOR, f"{LAYER}{os.pathsep}{layer_site()}", str(event_path), str(result_path)]
        done = subprocess.run(
            [sys.executable, "-I", "-S", str(PROBE), *arguments, str(memory), str(timeout)],
            env=child_environment(stack, subject if function_dir else None),
            capture_output=True,
            text=True,
            cwd=scratch,
            check=False,
        )
        if done.returncode != 0 or not result_path.exists():
            raise RuntimeError(f"{subject} failed its cold start:\n{done.stderr[-3000:]}")
        result: dict[str, Any] = json.loads(result_path.read_text())
    status = result.get("status")
    if (status is not None and int(status) >= 400) or result.get("batch_failures"):
        raise RuntimeError(f"{subject}'s first invocation did not succeed: {result}")
    result["memory_mb"] = memory
    return result


def measure(integration: str, functions: tuple[str, ...], rounds: int) -> dict[str, Any]:
    samples: dict[str, list[dict[str, Any]]] = {s: [] for s in (FLOOR, *functions)}
    with running_system(
        wait_scale=1.0, integration=integration, sandbox_config={"download_seconds": 1.0}, UpdateDeadlineSeconds="900"
    ) as (stack, sandbox):
        scenarios = Scenarios(stack, sandbox, integration)
        order = [FLOOR, *functions]
        shuffle = random.Random(15)
        for n in range(rounds):
            shuffle.shuffle(order)
            for subject in order:
                event = None if subject == FLOOR else getattr(scenarios, subject)()
                samples[subject].append(sample(stack, subject, event))
            print(f"{integration} cold starts: round {n + 1}/{rounds}", flush=True)
    return summarise(integration, samples)


def _median(rows: list[dict[str, Any]], key: str) -> float:
    return round(float(statistics.median(r[key] for r in rows)), 1)


def summarise(integration: str, samples: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    floor = samples[FLOOR]
    floor_cpu, floor_wall = _median(floor, "init_cpu_ms"), _median(floor, "init_ms")
    rows = []
    for function, runs in sorted(samples.items()):
        if function == FLOOR:
            continue
        init_cpu, first_cpu = _median(runs, "init_cpu_ms"), _median(runs, "first_cpu_ms")
        init_wall, first_wall = _median(runs, "init_ms"), _median(runs, "first_ms")
        total_cpu = round(statistics.median(r["init_cpu_ms"] + r["first_cpu_ms"] for r in runs), 1)
        total_wall = round(statistics.median(r["init_ms"] + r["first_ms"] for r in runs), 1)
        rows.append(
            {
                "function": function,
                "integration": integration,
                "memory_mb": runs[0]["memory_mb"],
                "samples": len(runs),
                "init_cpu_ms": init_cpu,
                "first_cpu_ms": first_cpu,
                "total_cpu_ms": total_cpu,
                "init_wall_ms": init_wall,
                "first_wall_ms": first_wall,
                "total_wall_ms": total_wall,
                "cpu_ratio": round(total_cpu / floor_cpu, 2),
                "wall_ratio": round(total_wall / floor_wall, 2),
                "peak_rss_mb": round(max(r["peak_rss_mb"] for r in runs), 1),
                "loaded_at_init": runs[-1]["loaded_at_init"],
                "loaded_at_first": [
                    m for m in runs[-1].get("loaded_at_first", []) if m not in runs[-1]["loaded_at_init"]
                ],
            }
        )
    return {
        "integration": integration,
        "floor_cpu_ms": floor_cpu,
        "floor_wall_ms": floor_wall,
        "floor_samples": len(floor),
        "functions": rows,
    }


def layer_size() -> dict[str, Any]:
    """Build the layer exactly as `sam build` does (its makefile, arm64 wheels) and measure it unzipped and zipped."""
    with tempfile.TemporaryDirectory() as build:
        env = os.environ | {"PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
        subprocess.run(
            ["make", "-s", "-C", str(LAYER), "build-CoreLayer", f"ARTIFACTS_DIR={build}"],
            env=env,
            check=True,
            capture_output=True,
        )
        files = [p for p in Path(build).rglob("*") if p.is_file()]
        unzipped = sum(p.stat().st_size for p in files)
        archive = Path(build).with_suffix(".zip")
        with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zipped:
            for path in files:
                zipped.write(path, path.relative_to(build))
        size = archive.stat().st_size
        archive.unlink()
        biggest: dict[str, int] = {}
        for path in files:
            top = path.relative_to(build).parts[1] if len(path.relative_to(build).parts) > 2 else path.name
            biggest[top] = biggest.get(top, 0) + path.stat().st_size
    largest = sorted(biggest.items(), key=lambda kv: -kv[1])[:6]
    return {
        "unzipped_mb": round(unzipped / 1e6, 1),
        "zipped_mb": round(size / 1e6, 1),
        "files": len(files),
        "largest_packages_mb": {name: round(b / 1e6, 1) for name, b in largest},
    }


def markdown(result: dict[str, Any]) -> str:
    lines = [
        "INIT (import of the handler module) plus the first invocation with a real event against the local stack, "
        'each sample a fresh interpreter; medians. Floor: `import boto3; boto3.client("dynamodb")` in the same run. '
        f"Target: INIT + first invocation ≤ {TARGET_RATIO:g}× the floor, in CPU and in wall-clock time. Python "
        f"{result['python']} here (Lambda: 3.13).",
        "",
    ]
    for run in result["runs"]:
        lines += [
            f"**{run['integration']}** — floor {run['floor_cpu_ms']} ms CPU, {run['floor_wall_ms']} ms wall "
            f"({run['floor_samples']} samples).",
            "",
            "| function | MB | INIT CPU | 1st inv. CPU | **total CPU** | × floor | INIT wall | 1st inv. wall "
            "| **total wall** | × floor | peak RSS (MB) | loaded at INIT | loaded at 1st invocation | target |",
            "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
        ]
        for r in run["functions"]:
            worst = max(r["cpu_ratio"], r["wall_ratio"])
            verdict = "met" if worst <= TARGET_RATIO else f"MISSED by {worst - TARGET_RATIO:.2f}×"
            lines.append(
                f"| {r['function']} | {r['memory_mb']} | {r['init_cpu_ms']} | {r['first_cpu_ms']} "
                f"| **{r['total_cpu_ms']}** | {r['cpu_ratio']} | {r['init_wall_ms']} | {r['first_wall_ms']} "
                f"| **{r['total_wall_ms']}** | {r['wall_ratio']} | {r['peak_rss_mb']} "
                f"| {', '.join(r['loaded_at_init']) or '—'} | {', '.join(r['loaded_at_first']) or '—'} | {verdict} |"
            )
        lines.append("")
    layer = result["layer"]
    lines.append(
        f"Layer (built by its makefile, arm64 wheels): **{layer['unzipped_mb']} MB unzipped, {layer['zipped_mb']} MB "
        f"zipped**, {layer['files']} files (Lambda limits: 250 MB unzipped, 50 MB zipped upload). Largest: "
        + ", ".join(f"{name} {mb} MB" for name, mb in layer["largest_packages_mb"].items())
        + "."
    )
    return "\n".join(lines) + "\n"


def main() -> None:
    rounds = int(os.environ.get("BENCH_COLD_ROUNDS", "9"))
    only = set(filter(None, os.environ.get("BENCH_COLD_FUNCTIONS", "").split(",")))  # a subset, while digging
    runs = [
        measure(integration, tuple(f for f in functions if not only or f in only), rounds)
        for integration, functions in (("ACCESS", ACCESS_FUNCTIONS), ("WEB_FORM", WEB_FORM_FUNCTIONS))
        if not only or only & set(functions)
    ]
    result = {
        "rounds": rounds,
        "python": sys.version.split()[0],
        "target_ratio": TARGET_RATIO,
        "runs": runs,
        "layer": layer_size(),
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "cold_start.json").write_text(json.dumps(result, indent=2) + "\n")
    (RESULTS / "cold_start.md").write_text(markdown(result))
    print((RESULTS / "cold_start.md").read_text())


if __name__ == "__main__":
    main()
