"""Warm overhead: per invocation of each handler, the time spent in our code beyond the round-trips it wraps.

The whole system runs on the local stack (real handlers, moto, the finAPI sandbox on loopback) and a banking app's
users go through every flow: plain and TAN updates, queries, schedule settings, operator registration and scheduled
unattended updates. Every invocation is metered (bench/metering.py): its duration, the time waiting on finAPI and on
AWS (moto over loopback; in AWS a network round-trip as well). First invocations of each execution environment
(imports) are left out.

Own time is judged on the CPU time of the invocation's thread outside its finAPI and AWS sends (botocore's work to
build, sign and parse requests counted as ours, and shown apart). Wall-clock own time (duration - finAPI - AWS) is
reported beside it, but on the local stack it also holds the waits for the GIL while the in-process moto, sandbox
and HTTP servers finish their side of a request, which in AWS run on other machines.

The poll loop runs with nothing slept inline (POLL_INLINE_MAX_GAP_SECONDS=0), so a poll invocation is one look.

`python -m bench.warm` writes bench/results/warm.json and warm.md.
"""

from __future__ import annotations

import json
import os
import statistics
from collections import Counter
from typing import Any

import httpx

from bench.harness import DEMO, NO_SCA, RESULTS, BankUser, running_system, states_entered
from bench.metering import Invocation, metered

TARGET_MS = 5.0


def one_round(stack: Any, sandbox: Any) -> None:
    # A plain update, then the connection opts in to background updates.
    user = BankUser(stack, sandbox, consent_expires_at=None, stored_pin=True)
    plain = user.trigger({"interface": "XS2A", "loginCredentials": NO_SCA})["updateId"]
    states_entered(stack, plain)
    user.update(plain)
    user.http.get("/v1/bank-connections").raise_for_status()
    user.http.put(f"/v1/bank-connections/{user.connection}/schedule", json={"enabled": True}).raise_for_status()
    user.http.get(f"/v1/bank-connections/{user.connection}").raise_for_status()
    # A TAN update: procedure choice, then the TAN.
    tan_user = BankUser(stack, sandbox)
    tan = tan_user.trigger({"interface": "XS2A", "loginCredentials": DEMO})["updateId"]
    tan_user.answer(tan, {"twoStepProcedureId": "901"})
    tan_user.answer(tan, {"challengeResponse": "123456"})
    states_entered(stack, tan)
    tan_user.update(tan)
    # The schedule fires: the due connection is queued, started unattended and polled to the end.
    stack.fire_schedule("ScheduleUpdatesFunctionScheduler")
    stack.settle(timeout=60)
    for client in (user.http, tan_user.http):
        client.close()


def summarise(invocations: list[Invocation]) -> list[dict[str, Any]]:
    rows = []
    for function in sorted({i.function for i in invocations}):
        warm = [i for i in invocations if i.function == function and not i.cold]
        if not warm:
            continue
        own_cpu = sorted(i.own_cpu_seconds * 1000 for i in warm)
        calls: Counter[str] = Counter()
        for invocation in warm:
            calls.update(invocation.aws_calls)
        rows.append(
            {
                "function": function,
                "warm_invocations": len(warm),
                "memory_mb": warm[0].memory_mb,
                "duration_ms_median": round(statistics.median(i.seconds * 1000 for i in warm), 2),
                "finapi_ms_median": round(statistics.median(i.finapi_seconds * 1000 for i in warm), 2),
                "aws_ms_median": round(statistics.median(i.aws_seconds * 1000 for i in warm), 2),
                "own_wall_ms_median": round(statistics.median(i.own_seconds * 1000 for i in warm), 2),
                "own_cpu_ms_median": round(statistics.median(own_cpu), 2),
                "own_cpu_ms_p90": round(own_cpu[int(0.9 * (len(own_cpu) - 1))], 2),
                "botocore_cpu_ms_median": round(statistics.median(i.sdk_own_cpu_seconds * 1000 for i in warm), 2),
                "own_cpu_without_botocore_ms_median": round(
                    statistics.median((i.own_cpu_seconds - i.sdk_own_cpu_seconds) * 1000 for i in warm), 2
                ),
                "finapi_calls_per_invocation": round(sum(i.finapi_calls for i in warm) / len(warm), 2),
                "aws_calls_per_invocation": round(sum(calls.values()) / len(warm), 2),
                "aws_calls": {name: round(count / len(warm), 2) for name, count in sorted(calls.items())},
                "meets_target": statistics.median(own_cpu) <= TARGET_MS,
            }
        )
    return rows


def markdown(rows: list[dict[str, Any]], rounds: int) -> str:
    lines = [
        f"{rounds} rounds of every flow on the local stack; warm invocations only. Own CPU = CPU time of the "
        "invocation's thread outside its finAPI and AWS sends (botocore's share shown apart); own wall = duration − "
        f"finAPI − AWS, which here also holds GIL waits on the in-process servers. Target: own ≤ {TARGET_MS:g} ms "
        "median, judged on own CPU.",
        "",
        "| function | warm invocations | duration (ms) | finAPI (ms) | AWS/moto (ms) | own wall (ms) "
        "| **own CPU (ms)** | own CPU p90 | of which botocore | without botocore | finAPI calls | AWS calls | target |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        verdict = "met" if r["meets_target"] else f"MISSED by {r['own_cpu_ms_median'] - TARGET_MS:.1f} ms"
        lines.append(
            f"| {r['function']} | {r['warm_invocations']} | {r['duration_ms_median']} | {r['finapi_ms_median']} "
            f"| {r['aws_ms_median']} | {r['own_wall_ms_median']} | **{r['own_cpu_ms_median']}** "
            f"| {r['own_cpu_ms_p90']} | {r['botocore_cpu_ms_median']} | {r['own_cpu_without_botocore_ms_median']} "
            f"| {r['finapi_calls_per_invocation']} | {r['aws_calls_per_invocation']} | {verdict} |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    rounds = int(os.environ.get("BENCH_WARM_ROUNDS", "12"))
    env = {"POLL_INLINE_MAX_GAP_SECONDS": "0", "ANSWER_WAIT_SECONDS": "0", "DECOUPLED_MIN_INTERVAL_SECONDS": "0"}
    with running_system(wait_scale=0.05, env=env, sandbox_config={"download_seconds": 0.5}) as (stack, sandbox):
        with metered() as meter:
            for n in range(rounds):
                one_round(stack, sandbox)
                print(f"round {n + 1}/{rounds}: {len(meter.invocations)} invocations so far", flush=True)
            invocations = list(meter.invocations)
        httpx.Client().close()
    rows = summarise(invocations)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "warm.json").write_text(json.dumps({"rounds": rounds, "functions": rows}, indent=2) + "\n")
    (RESULTS / "warm.md").write_text(markdown(rows, rounds))
    print((RESULTS / "warm.md").read_text())


if __name__ == "__main__":
    main()
