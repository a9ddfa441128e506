"""Transitions, detection lag and cost of the poll loop for downloads of 5 s, 60 s and 10 min, against a naive loop.

Two strategies run side by side, each in its own process with its own local stack and sandbox, in real time (no
scaled waits: the lag is the thing measured):

* ``adaptive``: the template's settings (gap = 12 % of the elapsed time, short gaps slept in the 128 MB poll
  invocation, long ones in the Wait state);
* ``naive``: a fixed 5 s loop (every gap a 5 s Wait state: ``POLL_LAG_RATIO=0``, min = max gap = 5 s, nothing inline).

Per update: the states the execution entered, the detection lag (the sandbox turned READY → the first look at the
connection after it), the Lambda invocations and GB-seconds, the AWS calls, and what it costs at list prices.

`python -m bench.polling` writes bench/results/polling.json and polling.md (~11 min; BENCH_DURATIONS=5,60 for less).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any

from bench.harness import (
    NO_SCA,
    RESULTS,
    ROOT,
    BankUser,
    enable_schedule,
    executions,
    running_system,
    states_entered,
)
from bench.metering import Invocation, metered
from bench.pricing import aws_calls_usd, lambda_usd, logs_usd, transitions_usd

# Logs at the template's default level: their volume is part of the bill.
STRATEGIES: dict[str, dict[str, str]] = {
    "adaptive": {"POWERTOOLS_LOG_LEVEL": "INFO"},
    "naive": {
        "POWERTOOLS_LOG_LEVEL": "INFO",
        "POLL_LAG_RATIO": "0",
        "POLL_MIN_GAP_SECONDS": "5",
        "POLL_MAX_GAP_SECONDS": "5",
        "POLL_INLINE_MAX_GAP_SECONDS": "0",
    },
}
DURATIONS = [5.0, 60.0, 600.0]
# Scheduled updates are measured for the shorter downloads: their poll loop is the user-present one.
SCHEDULED_MAX = 60.0
TARGETS = {60.0: 12, 600.0: 25}
LAG_TARGET = 0.15
CHEAPER_TARGET = 3.0


def detection_lag(sandbox: Any, connection_id: int) -> tuple[float, float]:
    """(lag, download seconds): from the sandbox's READY moment to the first look at the connection after it."""
    world = sandbox.world
    with world.lock:
        connection = world.connections[connection_id]
        # A user-present update writes lastManualUpdate, an unattended one lastAutoUpdate.
        results = [*connection.last_manual_update.values(), *connection.last_auto_update.values()]
        ready_at: datetime = max(r.timestamp for r in results)
    calls = [c for c in world.calls if c.connection_id == connection_id]
    started = next(c.at for c in calls if c.method == "POST" and c.path.endswith("/update"))
    looks = [c.at for c in calls if c.method == "GET" and c.path.endswith(f"/bankConnections/{connection_id}")]
    seen = min(at for at in looks if at >= ready_at)
    return (seen - ready_at).total_seconds(), (ready_at - started).total_seconds()


def log_bytes(stack: Any) -> int:
    """What the functions wrote to their logs so far (CloudWatch Logs bills ingestion by the byte)."""
    return sum(len(text.encode()) for lines in stack.runtime.capture.lines.values() for text in lines)


def warm_up(stack: Any, sandbox: Any) -> None:
    """One short update of each kind first: the measured ones then run on warm functions, as they mostly do in AWS
    (cold starts and the one-off secret fetch are bench/cold_start.py's subject)."""
    user = BankUser(stack, sandbox, download_seconds=0.5, stored_pin=True)
    states_entered(stack, str(user.trigger({"interface": "XS2A", "loginCredentials": NO_SCA})["updateId"]))
    enable_schedule(stack, user)
    stack.fire_schedule("ScheduleUpdatesFunctionScheduler")
    stack.settle(timeout=60)
    user.http.close()


def run_strategy(name: str, durations: list[float]) -> list[dict[str, Any]]:
    rows = []
    with (
        running_system(wait_scale=1.0, env=STRATEGIES[name], UpdateDeadlineSeconds="900") as (stack, sandbox),
        metered() as meter,
    ):
        warm_up(stack, sandbox)
        runs = [("user-present", d) for d in durations] + [("scheduled", d) for d in durations if d <= SCHEDULED_MAX]
        for mode, duration in runs:
            user = BankUser(stack, sandbox, download_seconds=duration, stored_pin=True)
            if mode == "scheduled":
                enable_schedule(stack, user)
                before = executions(stack)
                meter.clear()
                logs_before = log_bytes(stack)
                stack.fire_schedule("ScheduleUpdatesFunctionScheduler")
                stack.settle(timeout=duration + 120)
                (update_id,) = executions(stack) - before
            else:
                meter.clear()
                logs_before = log_bytes(stack)
                update_id = str(user.trigger({"interface": "XS2A", "loginCredentials": NO_SCA})["updateId"])
            states = states_entered(stack, update_id, timeout=duration + 120)
            logs, invocations = log_bytes(stack) - logs_before, list(meter.invocations)
            rows.append(_row(name, mode, duration, user, update_id, states, invocations, sandbox, logs))
            print(
                f"{name:<8} {mode:<12} {duration:>5.0f} s  {rows[-1]['status']:<9} {len(states):>3} transitions  "
                f"lag {rows[-1]['lag_seconds']:6.2f} s",
                flush=True,
            )
            user.http.close()
    return rows


def _row(
    name: str,
    mode: str,
    duration: float,
    user: BankUser,
    update_id: str,
    states: list[str],
    metered_invocations: list[Invocation],
    sandbox: Any,
    logs: int,
) -> dict[str, Any]:
    status = user.update(update_id)["status"]
    lag, measured_duration = detection_lag(sandbox, user.connection)
    # The scheduler's run is shared by every connection due at that moment: bench/scheduler.py prices it per connection.
    invocations = [i for i in metered_invocations if i.function != "ScheduleUpdatesFunction"]
    calls: Counter[str] = Counter()
    for invocation in invocations:
        calls.update(invocation.aws_calls)
    gb_seconds = sum(i.gb_seconds for i in invocations)
    cost = {
        "stepfunctions": transitions_usd(len(states)),
        "logs": logs_usd(logs, len(invocations)),
        "lambda": lambda_usd(len(invocations), gb_seconds),
        "aws_calls": aws_calls_usd(dict(calls)),
    }
    poll = [i for i in invocations if i.function == "PollUpdateStatusFunction"]
    return {
        "strategy": name,
        "mode": mode,
        "download_seconds": duration,
        "measured_download_seconds": round(measured_duration, 2),
        "status": status,
        "transitions": len(states),
        "states": states,
        "finapi_looks": sum(i.finapi_calls for i in poll),
        "lag_seconds": round(lag, 2),
        "lag_share": round(lag / duration, 3),
        "invocations": dict(Counter(i.function for i in invocations)),
        "gb_seconds_by_function": {
            f: round(sum(i.gb_seconds for i in invocations if i.function == f), 4)
            for f in {i.function for i in invocations}
        },
        "poll_gb_seconds": round(sum(i.gb_seconds for i in poll), 3),
        "gb_seconds": round(gb_seconds, 3),
        "aws_calls": dict(calls),
        "log_bytes": logs,
        "cost_usd": {k: round(v, 8) for k, v in cost.items()},
        "cost_usd_total": round(sum(cost.values()), 8),
    }


def markdown(all_rows: list[dict[str, Any]]) -> str:
    rows = [r for r in all_rows if r["mode"] == "user-present"]
    by = {(r["strategy"], r["download_seconds"]): r for r in rows}
    lines = [
        "| download | strategy | transitions | finAPI looks | detection lag | lag / duration | poll GB-s "
        "| cost per update (USD) | naive ÷ adaptive cost | targets |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for duration in sorted({r["download_seconds"] for r in rows}):
        adaptive, naive = by.get(("adaptive", duration)), by.get(("naive", duration))
        for row in (adaptive, naive):
            if row is None:
                continue
            ratio, verdicts = "", ""
            if row is adaptive:
                verdicts = "; ".join(_verdicts(adaptive, naive))
                if naive is not None:
                    ratio = f"{naive['cost_usd_total'] / adaptive['cost_usd_total']:.1f}×"
            lines.append(
                f"| {_duration(duration)} | {row['strategy']} | {row['transitions']} | {row['finapi_looks']} "
                f"| {row['lag_seconds']} s | {row['lag_share'] * 100:.1f} % | {row['poll_gb_seconds']} "
                f"| {row['cost_usd_total']:.7f} | {ratio} | {verdicts} |"
            )
    lines += ["", "Scheduled (unattended) updates, same loop:", ""]
    lines += ["| download | strategy | transitions | detection lag | cost per update (USD) |", "|---|---|---|---|---|"]
    for r in (r for r in all_rows if r["mode"] == "scheduled"):
        lines.append(
            f"| {_duration(r['download_seconds'])} | {r['strategy']} | {r['transitions']} | {r['lag_seconds']} s "
            f"| {r['cost_usd_total']:.7f} |"
        )
    lines += [
        "",
        "Cost per update = Standard transitions + Lambda requests and GB-seconds (as measured on this machine) + "
        "DynamoDB, EventBridge, KMS and Secrets Manager calls, at the list prices in `bench/pricing.py`. "
        "Paths per run are in polling.json.",
    ]
    return "\n".join(lines) + "\n"


def _verdicts(adaptive: dict[str, Any], naive: dict[str, Any] | None) -> list[str]:
    duration = adaptive["download_seconds"]
    out = []
    if duration in TARGETS:
        limit = TARGETS[duration]
        gap = adaptive["transitions"] - limit
        out.append(f"≤ {limit} transitions " + ("met" if gap <= 0 else f"MISSED by {gap}"))
    share = adaptive["lag_share"]
    out.append("lag ≤ 15 % " + ("met" if share <= LAG_TARGET else f"MISSED by {(share - LAG_TARGET) * 100:.1f} points"))
    if naive is not None:
        ratio = naive["cost_usd_total"] / adaptive["cost_usd_total"]
        out.append(
            "≥ 3× cheaper "
            + ("met" if ratio >= CHEAPER_TARGET else f"MISSED ({ratio:.1f}×, {CHEAPER_TARGET - ratio:.1f}× short)")
        )
    return out


def _duration(seconds: float) -> str:
    return f"{seconds / 60:g} min" if seconds >= 120 else f"{seconds:g} s"


def main() -> None:
    durations = [float(d) for d in os.environ.get("BENCH_DURATIONS", "").split(",") if d] or DURATIONS
    if len(sys.argv) > 2 and sys.argv[1] == "--strategy":
        rows = run_strategy(sys.argv[2], durations)
        Path(sys.argv[3]).write_text(json.dumps(rows))
        return
    with tempfile.TemporaryDirectory() as scratch:
        children = {
            name: (
                Path(scratch) / f"{name}.json",
                subprocess.Popen(
                    [sys.executable, "-m", "bench.polling", "--strategy", name, str(Path(scratch) / f"{name}.json")],
                    cwd=ROOT,
                ),
            )
            for name in STRATEGIES
        }
        rows = []
        for name, (path, child) in children.items():
            if child.wait() != 0:
                raise SystemExit(f"strategy {name} failed")
            rows += json.loads(path.read_text())
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "polling.json").write_text(json.dumps(rows, indent=2) + "\n")
    (RESULTS / "polling.md").write_text(markdown(rows))
    print((RESULTS / "polling.md").read_text())


if __name__ == "__main__":
    main()
