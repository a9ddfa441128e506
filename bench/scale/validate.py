"""`make scale-check`: the simulation checked against a real local-stack run of the same size and parameters
-> bench/results/scale_validation.json and .md.

The real run (``realrun.py``) drains ``--updates`` due connections through the scheduled path with a StartExecution
bucket scaled down to where this machine reaches it; the simulation is then pointed at the same arrivals, parameters
and bucket. It reads the update's calls from ``flows.json`` (ACCESS, scheduled, 5 s downloads: the real run's flow)
and the time one start takes from the real run itself (StartScheduledUpdate's wall time per message, measured in that
run: it depends on this machine's load, which the run and ``flows.json`` do not share). Issue 22's bar: completion
time and throttles within 10 %.

`python -m bench.scale.validate [--updates 600] [--rate 5] [--concurrency 6] [--bucket 40 4]` (2,000 did not fit this
2-core, 23 GB machine: the local stack keeps every execution and log in memory, and such a run reached 19 GB in 19
minutes); `--resimulate` simulates the
recorded real run again.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "layers" / "core"))

from bankupdate.domain.redelivery import ThrottledRetry  # noqa: E402
from bench.scale.markdown import publish  # noqa: E402
from bench.scale.policies import load_policies  # noqa: E402
from bench.scale.profile import load_profile  # noqa: E402
from bench.scale.realrun import real_run  # noqa: E402
from bench.scale.scenarios import predict_night  # noqa: E402
from local_stack.quotas import Quotas  # noqa: E402

RESULTS = ROOT / "bench" / "results"
DOWNLOAD_SECONDS = 5.0
TOLERANCE = 0.10


def run_timeout(updates: int, refill: float) -> float:
    """How long the real run waits for its starts: half an hour, or four times the bucket's refill of them."""
    return max(1800.0, 4 * updates / refill)


def simulate(real: dict[str, Any], seeds: range = range(5)) -> dict[str, Any]:
    """The simulation of ``real``'s run (same arrivals, parameters, bucket), averaged over a few seeds (jitter)."""
    parameters = real["parameters"]
    size, refill = parameters["StartExecution bucket"]
    quotas = Quotas.default("eu-central-1").with_overrides(stepfunctions__StartExecution__standard=(size, refill))
    # A start's time: the start function's wall time per message in the run, less botocore's retry delays where the
    # run measured them (the simulation adds its own); runs before that measurement hold them (a second or so per
    # throttled message)
    measured = real["start_function"]
    overall = measured["seconds"] / max(1, measured["messages"])
    start_seconds = round(measured.get("seconds_per_message_without_retry_delays", overall), 4)
    profile = load_profile("ACCESS", "scheduled", DOWNLOAD_SECONDS).model_copy(update={"start_seconds": start_seconds})
    # Where the run recorded each invocation's time per start and when it began, a batch's starts take the one
    # nearest in time (runs before that recorded only the mean, which every batch then takes)
    samples = [(float(at), float(seconds)) for at, seconds in measured.get("starts_by_invocation", [])]
    # The start function's return of a start refused for rate as the run had it (none before D39: the queue's)
    recorded = real.get("throttled_retry")
    policies = replace(load_policies(), throttled_retry=ThrottledRetry(*recorded) if recorded else None)
    # As long as the real run waited for its starts: a start after that is not in its figures either
    horizon = float(real.get("timeout_seconds", run_timeout(real["updates"], refill)))
    runs = []
    for seed in seeds:
        outcome = predict_night(
            [0.0] * real["updates"],
            quotas,
            profile,
            replace(policies, starts_per_second=float(parameters["ScheduledStartsPerSecond"])),
            starts_per_second=float(parameters["ScheduledStartsPerSecond"]),
            max_concurrency=int(parameters["ScheduledStartConcurrency"]),
            scenario="validation",
            seed=seed,
            batch_overhead_seconds=real["start_function"].get("seconds_per_batch_beyond_the_invocation", 0.0),
            shared_retry_quota=True,
            start_times=samples,
            horizon=horizon,
            # The real run fires the reconciler every period from its scheduler run on (runs before that never did)
            reconcile_phase=0.0 if "schedule_runs" in real else math.inf,
        )
        (start,) = [q for q in outcome.quotas if q.quota == "stepfunctions.StartExecution.standard"]
        runs.append(
            {
                "completion_seconds": outcome.completion_seconds,
                "p50_start_seconds": outcome.p50_to_start_seconds,
                "p95_start_seconds": outcome.p95_to_start_seconds,
                "throttles": start.met,
                "redelivered": outcome.redelivered,
                "postponed": outcome.postponed,
                "started": outcome.started,
                "lost": outcome.lost,
                "double_budget": outcome.double_budget,
            }
        )
    return {
        "seeds": len(runs),
        "start_seconds_from_the_real_run": start_seconds,
        "start_seconds_varied_by_batch": bool(samples),
        **{key: round(sum(r[key] for r in runs) / len(runs), 2) for key in runs[0]},
        "runs": runs,
    }


def within_deadline(real: dict[str, Any]) -> dict[str, Any]:
    """The real run's figures before its deadline, as the simulation's horizon cuts its own (runs recorded before the
    real run cut them kept the starts of a reconciler run fired at the deadline; their throttles are not recorded by
    time, so they stay in)."""
    deadline = float(real.get("timeout_seconds", math.inf))
    started = [t for t in real["started_seconds"] if t < deadline]
    return {
        "started": len(started),
        "completion_seconds": max(started) if started else 0.0,
        "started_seconds": started,
        "throttles": real["throttles"],
    }


def _share(started: list[float], share: float) -> float:
    """The time by which ``share`` of the real run's updates had started (as the simulation's percentiles)."""
    ordered = sorted(started)
    return ordered[min(len(ordered) - 1, math.ceil(share * len(ordered)) - 1)] if ordered else 0.0


def _within(simulated: float, real: float) -> dict[str, Any]:
    error = abs(simulated - real) / real if real else (0.0 if simulated == 0 else math.inf)
    return {"real": real, "simulated": simulated, "error": round(error, 4), "within_10_percent": error <= TOLERANCE}


def _varied(result: dict[str, Any]) -> str:
    if not result["simulated"].get("start_seconds_varied_by_batch"):
        return " on the mean, every batch alike"
    per_start = result["real"]["start_function"]["starts_by_invocation"]
    ordered = sorted(seconds for _, seconds in per_start)
    return (
        f" on the mean; each batch's that of the run's invocation nearest in time, of {len(ordered)}: "
        f"{ordered[0]:.2f}-{ordered[-1]:.2f} s, median {ordered[len(ordered) // 2]:.2f} s"
    )


def _came_back(real: dict[str, Any]) -> str:
    """How a failed delivery came back in the run (the simulation models it for a throttle only)."""
    retry = real.get("throttled_retry")
    if not retry:
        return "each came back after the queue's visibility timeout (the run was before D39)."
    base, most = retry
    return (
        f"one refused for rate came back after the start function's delay (D39: from {base // 2}-{base} s at the "
        f"first receive, doubling, at most {most} s), any other after the queue's visibility timeout."
    )


def write_markdown(result: dict[str, Any], path: Path) -> None:
    real, checks = result["real"], result["checks"]
    lines = [
        "# Scale: the simulation against a real local-stack run",
        "",
        f"Generated by `{result['command']}` (`make scale-check`) in {result['wall_seconds']} s on this machine.",
        "",
        f"{real['updates']:,} connections due at once, drained by the scheduled path of the local stack (scheduler, "
        "SQS with delays, the event source mapping, StartScheduledUpdate, the finAPI sandbox, moto's Step Functions) "
        f"with {json.dumps(real['parameters'])}; StartExecution refused by the bench's gate (`bench/scale/realrun.py`) "
        "when the scaled bucket is empty. The simulation (`bench/scale/`) gets the same arrivals, parameters and "
        f"bucket, the time one start took in the real run ({result['simulated']['start_seconds_from_the_real_run']} s "
        f"a message{_varied(result)}) and botocore's retry quota shared by every start (one client in the local "
        "stack's process); it "
        f"is averaged over {result['simulated']['seeds']} seeds.",
        "",
        "| figure | real | simulated | error | within 10 % |",
        "|---|---|---|---|---|",
    ]
    for name, check in checks.items():
        lines.append(
            f"| {name} | {check['real']} | {check['simulated']} | {check['error']:.1%} | "
            f"{'yes' if check['within_10_percent'] else '**no**'} |"
        )
    lines += [
        "",
        f"Scheduler run: {json.dumps(real['scheduler_run'])}; queued in {real['queued_in_seconds']} s. After the "
        f"run: executions {json.dumps(real.get('executions'))}, update records "
        f"{json.dumps(real.get('update_records', 'not recorded'))}, connections left locked {real.get('left_locked')} "
        f"(settled: {real.get('settled')}). Deliveries the start function reported failed: "
        f"{real['start_function'].get('messages_failed')} (why, where recorded: "
        f"{json.dumps(real.get('start_failures'))}); {_came_back(real)}",
        "",
    ]
    path.write_text("\n".join(lines))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--updates", type=int, default=600)
    parser.add_argument("--rate", type=float, default=5.0)
    parser.add_argument("--concurrency", type=int, default=6)
    parser.add_argument("--bucket", type=float, nargs=2, default=(40.0, 4.0))
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument(
        "--resimulate", action="store_true", help="simulate the real run in --out/scale_validation.json again"
    )
    args = parser.parse_args()
    began = time.monotonic()
    if args.resimulate:
        previous = json.loads((args.out / "scale_validation.json").read_text())
        real, command, wall = previous["real"], previous["command"], previous["wall_seconds"]
    else:
        real = real_run(
            args.updates,
            starts_per_second=args.rate,
            concurrency=args.concurrency,
            bucket=tuple(args.bucket),
            download_seconds=DOWNLOAD_SECONDS,
            timeout=run_timeout(args.updates, args.bucket[1]),
        )
        command = (
            f"python -m bench.scale.validate --updates {args.updates} --rate {args.rate:g} "
            f"--concurrency {args.concurrency} --bucket {args.bucket[0]:g} {args.bucket[1]:g}"
        )
        wall = round(time.monotonic() - began, 1)
    simulated = simulate(real)
    windowed = within_deadline(real)
    result = {
        "command": command,
        "wall_seconds": wall,
        "real": real,
        "simulated": simulated,
        "checks": {
            "started": _within(float(simulated["started"]), float(windowed["started"])),
            "completion (last start), s": _within(simulated["completion_seconds"], windowed["completion_seconds"]),
            "p50 due -> start, s": _within(simulated["p50_start_seconds"], _share(windowed["started_seconds"], 0.5)),
            "p95 due -> start, s": _within(simulated["p95_start_seconds"], _share(windowed["started_seconds"], 0.95)),
            "StartExecution throttles": _within(simulated["throttles"], float(windowed["throttles"])),
        },
    }
    publish(result, args.out, "scale_validation", write_markdown)


if __name__ == "__main__":
    main()
