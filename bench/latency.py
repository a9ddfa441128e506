"""Our own latency above finAPI's, per API call, as the app sees it over HTTP on the local stack (warm functions).

Every call the API offers is made round after round by fresh users whose connections the service knows (the
operator synced them): the trigger (one that starts the download, one
that gets a challenge), each kind of answer (an instant procedure choice, sent the moment the trigger answered; a TAN;
a decoupled confirmation; a redirect's return; credentials asked for by us), the reads, the schedule switch; in Web
Form 2.0 mode the trigger, the reads and finAPI's callbacks. For each request: the wall-clock time the client waited,
minus the time the function serving it waited on finAPI (the sandbox; in AWS finAPI's own latency, not ours), split
into where the rest went: the local stack's HTTP layer (JWT check, event building, handing over to the function; API
Gateway does this in AWS), AWS calls (moto over loopback, contended), our CPU (the invocation's thread: our code,
botocore, httpx), and the rest (the thread waiting for the GIL held by the in-process servers).

The first rounds warm the functions up and are left out. finAPI's callbacks come from the Web Form sandbox, so their
time is taken at the local HTTP API (the server side of the request).

`python -m bench.latency` writes bench/results/latency.json and latency.md (BENCH_LATENCY_ROUNDS, default 25).
"""

from __future__ import annotations

import json
import os
import statistics
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from unittest import mock

import httpx

from bench.cost import AWS_CALL_SECONDS, cpu_stretch
from bench.harness import DEMO, NO_SCA, RESULTS, BankUser, running_system
from bench.metering import Invocation, Meter, metered
from local_stack.http_api import HttpApi

TARGET_MS = 50.0
WARM_UP_ROUNDS = 3


@dataclass
class Sample:
    kind: str
    client_seconds: float
    invocation: Invocation


@dataclass
class Recorder:
    meter: Meter
    samples: list[Sample] = field(default_factory=list)
    server_side: list[tuple[str, float, float]] = field(default_factory=list)  # (path, started, seconds)

    def call(self, kind: str, function: str, request: Callable[[], httpx.Response]) -> httpx.Response:
        started = time.perf_counter()
        answer = request()
        waited = time.perf_counter() - started
        if answer.status_code >= 400:
            raise RuntimeError(f"{kind}: {answer.status_code} {answer.text[:300]}")
        served = [i for i in self.meter.for_function(function) if i.started >= started]
        if not served:
            raise RuntimeError(f"{kind}: no invocation of {function} found")
        self.samples.append(Sample(kind, waited, served[0]))
        return answer


@contextmanager
def server_timing(recorder: Recorder) -> Iterator[None]:
    """The local HTTP API's own time per request (for requests this bench does not send: finAPI's callbacks)."""
    handle = HttpApi.handle

    def timed(api: HttpApi, method: str, raw_path: str, *args: Any) -> Any:
        started = time.perf_counter()
        try:
            return handle(api, method, raw_path, *args)
        finally:
            recorder.server_side.append((raw_path, started, time.perf_counter() - started))

    with mock.patch.object(HttpApi, "handle", timed):
        yield


def access_round(stack: Any, sandbox: Any, record: Recorder) -> None:
    trigger, answer, query, settings = (
        "TriggerUpdateFunction",
        "CollectCredentialsFunction",
        "QueryFunction",
        "ConnectionSettingsFunction",
    )
    # A sync that starts the download at once, then the reads and the schedule switch.
    plain = BankUser(stack, sandbox, download_seconds=1).sync()
    url = f"/v1/bank-connections/{plain.connection}/updates"
    body = {"interface": "XS2A", "loginCredentials": NO_SCA}
    started = record.call("trigger → 202 IN_PROGRESS", trigger, lambda: plain.http.post(url, json=body)).json()
    update_id = started["updateId"]
    record.call("read update", query, lambda: plain.http.get(f"/v1/updates/{update_id}"))
    record.call("read connection", query, lambda: plain.http.get(f"/v1/bank-connections/{plain.connection}"))
    record.call("list connections", query, lambda: plain.http.get("/v1/bank-connections"))
    schedule = f"/v1/bank-connections/{plain.connection}/schedule"
    record.call("schedule switch", settings, lambda: plain.http.put(schedule, json={"enabled": True}))
    record.call("schedule switch", settings, lambda: plain.http.put(schedule, json={"enabled": False}))
    # The bank asks for a TAN procedure; the user picks one the moment the answer is there, then types the TAN.
    tan = BankUser(stack, sandbox, download_seconds=1).sync()
    url = f"/v1/bank-connections/{tan.connection}/updates"
    body = {"interface": "XS2A", "loginCredentials": DEMO}
    update_id = record.call("trigger → 202 challenge", trigger, lambda: tan.http.post(url, json=body)).json()[
        "updateId"
    ]
    path = f"/v1/updates/{update_id}/authentication"
    choice = {"twoStepProcedureId": "901"}
    record.call("answer: procedure choice (instant)", answer, lambda: tan.http.post(path, json=choice))
    record.call("answer: TAN", answer, lambda: tan.http.post(path, json={"challengeResponse": "123456"}))
    # Decoupled: the user confirms in the bank's app and says so.
    decoupled = BankUser(stack, sandbox, download_seconds=1).sync()
    url = f"/v1/bank-connections/{decoupled.connection}/updates"
    update_id = decoupled.trigger({"interface": "XS2A", "loginCredentials": DEMO})["updateId"]
    path = f"/v1/updates/{update_id}/authentication"
    decoupled.answer(update_id, {"twoStepProcedureId": "905"})
    confirm = {"decoupledCallback": True}
    record.call("answer: decoupled confirmation", answer, lambda: decoupled.http.post(path, json=confirm))
    # The redirect bank: the user comes back from the bank's page.
    redirect = BankUser(stack, sandbox, bank_blz="DEMO0002", consent_expires_at=None, download_seconds=1).sync()
    started = redirect.trigger({"interface": "XS2A", "redirectUrl": "https://app.example/cb"})
    bank = httpx.get(started["authentication"]["redirectUrl"], follow_redirects=False)
    back = {"redirectCallback": httpx.URL(bank.headers["location"]).query.decode()}
    path = f"/v1/updates/{started['updateId']}/authentication"
    record.call("answer: redirect return", answer, lambda: redirect.http.post(path, json=back))
    # No consent and no stored PIN: we ask for the credentials, the user sends them once.
    asked = BankUser(stack, sandbox, consent_expires_at=None, download_seconds=1).sync()
    started = asked.trigger({"interface": "XS2A"})
    path = f"/v1/updates/{started['updateId']}/authentication"
    credentials = {"loginCredentials": NO_SCA, "storeSecrets": True}
    record.call("answer: credentials", answer, lambda: asked.http.post(path, json=credentials))
    for user in (plain, tan, decoupled, redirect, asked):
        user.http.close()


def web_form_round(stack: Any, sandbox: Any, record: Recorder) -> None:
    user = BankUser(stack, sandbox, download_seconds=0.5).sync()
    url = f"/v1/bank-connections/{user.connection}/updates"
    started = record.call("trigger → 202 IN_PROGRESS", "TriggerUpdateFunction", lambda: user.http.post(url, json={}))
    update_id = started.json()["updateId"]
    record.call("read update", "QueryFunction", lambda: user.http.get(f"/v1/updates/{update_id}"))
    deadline = time.monotonic() + 30
    while user.update(update_id)["status"] not in ("SUCCEEDED", "FAILED"):  # finAPI's callback comes meanwhile
        if time.monotonic() > deadline:
            raise TimeoutError(f"update {update_id} did not end")
        time.sleep(0.2)
    user.http.close()


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def summarise(samples: list[tuple[str, float, Invocation]]) -> list[dict[str, Any]]:
    rows = []
    for kind in dict.fromkeys(k for k, _, _ in samples):
        mine = [(waited, i) for k, waited, i in samples if k == kind]
        above = [(waited - i.finapi_seconds) * 1000 for waited, i in mine]
        layer = [(waited - i.seconds) * 1000 for waited, i in mine]
        aws = [i.aws_seconds * 1000 for _, i in mine]
        cpu = [i.own_cpu_seconds * 1000 for _, i in mine]
        rest = [a - lay - aw - c for a, lay, aw, c in zip(above, layer, aws, cpu, strict=True)]
        calls = [sum(i.aws_calls.values()) for _, i in mine]
        projected = [
            i.own_cpu_seconds * cpu_stretch(i.memory_mb) * 1000 + sum(i.aws_calls.values()) * AWS_CALL_SECONDS * 1000
            for _, i in mine
        ]
        rows.append(
            {
                "kind": kind,
                "function": mine[0][1].function,
                "samples": len(mine),
                "above_finapi_ms_p50": round(statistics.median(above), 1),
                "above_finapi_ms_p95": round(_percentile(above, 0.95), 1),
                "client_ms_p50": round(statistics.median(w * 1000 for w, _ in mine), 1),
                "finapi_ms_p50": round(statistics.median(i.finapi_seconds * 1000 for _, i in mine), 1),
                "http_layer_ms_p50": round(statistics.median(layer), 1),
                "aws_ms_p50": round(statistics.median(aws), 1),
                "own_cpu_ms_p50": round(statistics.median(cpu), 1),
                "rest_ms_p50": round(statistics.median(rest), 1),
                "aws_calls_mean": round(statistics.mean(calls), 2),
                "aws_calls": dict(
                    sorted(sum((i.aws_calls for _, i in mine), start=type(mine[0][1].aws_calls)()).items())
                ),
                "finapi_calls_mean": round(statistics.mean(i.finapi_calls for _, i in mine), 2),
                "projected_aws_ms_p50": round(statistics.median(projected), 1),
                "projected_aws_ms_p95": round(_percentile(projected, 0.95), 1),
                "meets_target": _percentile(above, 0.95) <= TARGET_MS,
            }
        )
    return rows


def measure(integration: str, rounds: int) -> list[dict[str, Any]]:
    env = {"POWERTOOLS_LOG_LEVEL": "INFO", "DECOUPLED_MIN_INTERVAL_SECONDS": "0"}
    sandbox_config = {"decoupled_min_interval_seconds": 0.0}
    params = {"AllowedRedirectUrls": "https://app.example/"}
    with (
        metered() as meter,
        running_system(wait_scale=1.0, integration=integration, env=env, sandbox_config=sandbox_config, **params) as (
            stack,
            sandbox,
        ),
    ):
        record = Recorder(meter)
        play = access_round if integration == "ACCESS" else web_form_round
        with server_timing(record):
            for n in range(rounds + WARM_UP_ROUNDS):
                if n == WARM_UP_ROUNDS:
                    record.samples.clear()
                    record.server_side.clear()
                    warm_from = time.perf_counter()
                play(stack, sandbox, record)
                print(f"{integration} latency: round {n + 1}/{rounds + WARM_UP_ROUNDS}", flush=True)
            time.sleep(1)
        samples = [(s.kind, s.client_seconds, s.invocation) for s in record.samples]
        for invocation in meter.for_function("WebFormCallbackFunction"):
            if invocation.started < warm_from:
                continue
            served = [
                sec
                for path, at, sec in record.server_side
                if "/webform-callbacks/" in path and at <= invocation.started
            ]
            if served:
                samples.append(("finAPI callback (server side)", served[-1], invocation))
    rows = summarise(samples)
    for row in rows:
        row["integration"] = integration
    return rows


def markdown(rows: list[dict[str, Any]], rounds: int) -> str:
    lines = [
        f"{rounds} rounds per integration on the local stack, warm functions, one request at a time. **Above finAPI** "
        "= the client's wait minus the time the function waited on finAPI (the sandbox). Its parts (medians): the "
        "local stack's HTTP layer (API Gateway's part in AWS), AWS calls (moto, in this process), our CPU, the rest "
        "(waiting for the GIL while the in-process servers work). Projected in AWS: our CPU stretched by the "
        f"function's CPU share (512 MB: {cpu_stretch(512):.2f}×) plus {AWS_CALL_SECONDS * 1000:g} ms per AWS call. "
        f"Target: above finAPI ≤ {TARGET_MS:g} ms at p95.",
        "",
        "| integration | call | n | **above finAPI p50 / p95 (ms)** | client p50 | finAPI p50 | HTTP layer "
        "| AWS (moto) | our CPU | rest | AWS calls | finAPI calls | projected in AWS p50 / p95 | target |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        verdict = "met" if r["meets_target"] else f"MISSED by {r['above_finapi_ms_p95'] - TARGET_MS:.1f} ms"
        lines.append(
            f"| {r['integration']} | {r['kind']} | {r['samples']} | **{r['above_finapi_ms_p50']} / "
            f"{r['above_finapi_ms_p95']}** | {r['client_ms_p50']} | {r['finapi_ms_p50']} | {r['http_layer_ms_p50']} "
            f"| {r['aws_ms_p50']} | {r['own_cpu_ms_p50']} | {r['rest_ms_p50']} | {r['aws_calls_mean']} "
            f"| {r['finapi_calls_mean']} | {r['projected_aws_ms_p50']} / {r['projected_aws_ms_p95']} | {verdict} |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    rounds = int(os.environ.get("BENCH_LATENCY_ROUNDS", "25"))
    rows = measure("ACCESS", rounds) + measure("WEB_FORM", rounds)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "latency.json").write_text(json.dumps({"rounds": rounds, "calls": rows}, indent=2) + "\n")
    (RESULTS / "latency.md").write_text(markdown(rows, rounds))
    print((RESULTS / "latency.md").read_text())


if __name__ == "__main__":
    main()
