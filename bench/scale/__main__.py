"""`make scale`: the morning rush and the night of a million, simulated through AWS's default quotas for
eu-central-1 with the calls, times and costs the local stack measured -> bench/results/scale.json and scale.md.

`python -m bench.scale [--presses 20000] [--connections 1000000]` (smaller figures for a quick look).
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "layers" / "core"))

from bench.scale.goals import night_goals, rush_goals  # noqa: E402
from bench.scale.markdown import publish, write_markdown  # noqa: E402
from bench.scale.policies import Policies, load_policies  # noqa: E402
from bench.scale.profile import UpdateProfile, load_profile  # noqa: E402
from bench.scale.scenarios import predict_night, predict_rush, rush_arrivals  # noqa: E402
from local_stack.quotas import Quotas  # noqa: E402

RESULTS = ROOT / "bench" / "results"
REGION = "eu-central-1"
NIGHT_SECONDS = 6 * 3600
RAISE_FACTOR = 2.0
MAX_RAISES = 8
FINAPI_LATENCIES = (0.1, 0.25)  # seconds more than the sandbox per finAPI request, for the rush's what-ifs
POLL_RESERVATION = 600  # the what-if's PollReservedConcurrency: 400 of the account's 1,000 left for the presses


def _raised(quotas: Quotas, key: str) -> Quotas:
    """The quota doubled, bucket and rate alike (what a Service Quotas request, or the template's stage throttle, is
    asked for)."""
    spec = quotas.spec(key)
    return quotas.with_overrides(
        **{key.replace(".", "__"): (spec.size * RAISE_FACTOR, spec.refill_per_second * RAISE_FACTOR)}
    )


def rush(presses: int) -> list[dict[str, object]]:
    """The defaults first; then, while a goal is missed, every quota that refused a call doubled, and run again."""
    policies = load_policies()
    profile = load_profile("ACCESS", "user-present, no SCA", 60.0)
    arrivals = rush_arrivals(presses, 60.0)
    quotas = Quotas.default(REGION, stage="prod")
    raised: list[str] = []
    runs: list[dict[str, object]] = []
    for _ in range(MAX_RAISES + 1):
        outcome = predict_rush(arrivals, quotas, profile, policies, scenario="rush" if not raised else "rush, raised")
        goals = rush_goals(outcome)
        runs.append({"outcome": outcome.model_dump(mode="json"), "goals": goals, "raised": list(raised)})
        binding = [q.quota for q in outcome.quotas if q.met]
        if all(goal["met"] for goal in goals) or not binding:
            break
        for key in binding:  # every quota that refused a call: each refusal costs a user time
            raised.append(key)
            quotas = _raised(quotas, key)
    # At the defaults, for comparison: the invocation times of updates measured side by side (flows.json), and a
    # finAPI slower than the sandbox on loopback (what-ifs: nobody measured finAPI's latency here).
    crowded = load_profile("ACCESS", "user-present, no SCA", 60.0, alone=False)
    defaults = Quotas.default(REGION, stage="prod")
    variants = []
    if crowded.measured != profile.measured:
        variants.append(("rush, invocation times measured side by side", crowded, defaults))
    variants += [
        (f"rush, what if finAPI answered each request {extra:g} s later", profile.with_finapi_latency(extra), defaults)
        for extra in FINAPI_LATENCIES
    ]
    # The template's PollReservedConcurrency: the polls capped, the rest of the account kept for the presses.
    slow, reserved = profile.with_finapi_latency(max(FINAPI_LATENCIES)), {"PollUpdateStatus": POLL_RESERVATION}
    variants.append(
        (
            f"rush, finAPI {max(FINAPI_LATENCIES):g} s later, PollReservedConcurrency {POLL_RESERVATION}",
            slow,
            Quotas.default(REGION, stage="prod", reserved=reserved),
        )
    )
    for scenario, variant, quotas in variants:
        outcome = predict_rush(arrivals, quotas, variant, policies, scenario=scenario)
        runs.append({"outcome": outcome.model_dump(mode="json"), "goals": rush_goals(outcome), "raised": []})
    return runs


def _night_run(
    due: list[float],
    profile: UpdateProfile,
    policies: Policies,
    rate: float,
    concurrency: int,
    horizon: float,
    label: str,
) -> dict[str, object]:
    quotas = Quotas.default(REGION, function_limits={"StartScheduledUpdate": concurrency})
    outcome = predict_night(
        due,
        quotas,
        profile,
        policies,
        starts_per_second=rate,
        max_concurrency=concurrency,
        horizon=horizon,
        scenario=f"night, {label}, {int(profile.download_seconds)} s downloads",
    )
    return {"outcome": outcome.model_dump(mode="json"), "goals": night_goals(outcome, NIGHT_SECONDS)}


def _configured(
    due: list[float], profile: UpdateProfile, policies: Policies, rate: int, label: str
) -> dict[str, object]:
    """The rate, and the start function's concurrency it needs: one start's measured time, with a quarter more."""
    needed = math.ceil(rate * profile.start_seconds * 1.25)
    return _night_run(due, profile, policies, float(rate), needed, math.inf, label)


def _keeps_half(run: dict[str, object]) -> bool:
    goals = run["goals"]
    assert isinstance(goals, list)
    return all(goal["met"] for goal in goals if str(goal["goal"]).startswith("half of"))


def night(connections: int) -> list[dict[str, object]]:
    """The template's defaults, then the night as an operator configures it (docs/capacity.md): the start function's
    concurrency the rate needs (the measured time of one start, with a quarter more); where the default rate takes
    more than half of a shared rate, also the largest whole rate below it that does not."""
    policies = load_policies()
    runs: list[dict[str, object]] = []
    due = [0.0] * connections  # the worst night: every connection due at once
    for download in (60.0, 600.0):
        profile = load_profile("ACCESS", "scheduled", download)
        if download == 60.0:
            runs.append(
                _night_run(
                    due, profile, policies, policies.starts_per_second, policies.start_concurrency,
                    float(NIGHT_SECONDS), "template defaults",
                )
            )  # fmt: skip
        rate = int(policies.starts_per_second)
        run = _configured(due, profile, policies, rate, "as configured for the night")
        runs.append(run)
        while not _keeps_half(run) and rate > 1:
            rate -= 1
            run = _configured(due, profile, policies, rate, "slowed to leave users half of every shared rate")
        if run is not runs[-1]:
            runs.append(run)
    return runs


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--presses", type=int, default=20_000)
    parser.add_argument("--connections", type=int, default=1_000_000)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    began = time.monotonic()
    result: dict[str, object] = {
        "command": f"python -m bench.scale --presses {args.presses} --connections {args.connections}",
        "region": REGION,
        "rush": rush(args.presses),
        "night": night(args.connections),
    }
    result["simulation_seconds"] = round(time.monotonic() - began, 1)
    publish(result, args.out, "scale", write_markdown)


if __name__ == "__main__":
    main()
