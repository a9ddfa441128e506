"""The summary of the last `make bench`: every goal of issue 15 with its verdict, and the cost model's figures.

Reads bench/results/*.json (written by the other benchmarks), writes bench/results/summary.md and cost.json, and
rewrites the generated block of docs/cost-model.md, so the document always shows the figures of the last run.
"""

from __future__ import annotations

import json
import re
import statistics
from typing import Any

from bench import cost
from bench.harness import RESULTS, ROOT, duration_label
from bench.pricing import PRICES

CHEAPEST = "user-present, no SCA"
# Issue 15's budgets, US dollars per million updates.
BUDGETS: list[tuple[str, float, float]] = [
    ("user-present, no SCA", 5.0, 60.0),
    ("user-present, no SCA", 60.0, 100.0),
    ("user-present, 2 SCA rounds", 5.0, 120.0),
    ("scheduled", 5.0, 70.0),
    ("scheduled", 60.0, 110.0),
]
LAG_TARGET = 0.15
COLD_TARGET = 2.0
LATENCY_TARGET_MS = 50.0


def load(name: str) -> Any:
    return json.loads((RESULTS / name).read_text())


def _usd(usd: float) -> str:
    return f"{cost.per_million(usd):,.2f}"


def cost_rows(
    updates: list[dict[str, Any]], cold: dict[str, Any], scheduler: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    rows = []
    for row in updates:
        usd = cost.update_cost(row, cold, scheduler)
        total = sum(usd.values())
        functions = row["functions"]
        inputs = {
            "transitions": row["transitions"],
            "invocations": sum(f["invocations"] for f in functions.values()),
            "billed_gb_seconds": cost.billed_gb_seconds(functions),
            "read_units": row.get("read_units", 0.0),
            "write_units": row.get("write_units", 0.0),
            "index_write_units": row.get("index_write_units", 0.0),
            "sqs_requests": row.get("sqs_chunks", 0.0) + row.get("sqs_consumer_requests", 0.0),
            "event_chunks": row.get("event_chunks", 0.0),
            "kms_calls": sum(v for k, v in row["aws_calls"].items() if k.startswith("kms.")),
            "http_requests": row.get("http_requests", 0.0),
            "log_bytes": row.get("log_bytes", 0.0),
            "looks": row.get("looks", 0.0),
        }
        rows.append(
            {
                "integration": row["integration"],
                "flow": row["flow"],
                "download_seconds": row["download_seconds"],
                "inputs": inputs,
                "usd": usd,
                "total_usd": total,
                "finapi_100ms_usd": cost.finapi_latency_usd(row),
                "express": cost.express_alternative(row, total),
            }
        )
    return rows


def inputs_markdown(rows: list[dict[str, Any]]) -> str:
    lines = [
        "The measured inputs per update (medians over the replicates; `bench/results/flows.json`). T: transitions; "
        "n: Lambda invocations; B: billed GB-seconds as modelled; RRU / WRU / GSI: DynamoDB request units, index "
        "writes apart; Q: SQS requests (messages sent, in 64 KB chunks, plus the poller's receive and delete); E: "
        "EventBridge events (64 KB chunks); K: KMS calls; H: HTTP API requests; L: log bytes our code wrote; looks: "
        "finAPI status reads.",
        "",
        "| integration | update | download | T | n | B (GB-s) | RRU | WRU | GSI | Q | E | K | H | L (KB) | looks |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        i = r["inputs"]
        lines.append(
            f"| {r['integration']} | {r['flow']} | {duration_label(r['download_seconds'])} | {i['transitions']:g} "
            f"| {i['invocations']:.2f} | {i['billed_gb_seconds']:.3f} | {i['read_units']:g} | {i['write_units']:g} "
            f"| {i['index_write_units']:g} | {i['sqs_requests']:.2f} | {i['event_chunks']:g} | {i['kms_calls']:g} "
            f"| {i['http_requests']:g} | {i['log_bytes'] / 1024:.1f} | {i['looks']:g} |"
        )
    return "\n".join(lines) + "\n"


def cost_markdown(rows: list[dict[str, Any]]) -> str:
    services = list(cost.SERVICES)
    lines = [
        inputs_markdown(rows),
        "US dollars **per million updates**, eu-central-1 list prices (`bench/pricing.py`), from the measurements of "
        "the last `make bench` (`bench/results/flows.json`, medians over the replicates). finAPI's own latency is "
        "not in these figures: the last column is what 100 ms more per finAPI call would add (the functions wait "
        "for it).",
        "",
        "| integration | update | download | " + " | ".join(services) + " | **total** | +100 ms per finAPI call |",
        "|---|---|---|" + "---|" * (len(services) + 2),
    ]
    for r in rows:
        cells = " | ".join(_usd(r["usd"].get(s, 0.0)) for s in services)
        lines.append(
            f"| {r['integration']} | {r['flow']} | {duration_label(r['download_seconds'])} | {cells} "
            f"| **{_usd(r['total_usd'])}** | +{_usd(r['finapi_100ms_usd'])} |"
        )
    express = [r for r in rows if r["express"] is not None]
    if express:
        lines += [
            "",
            "Scheduled updates as Express executions instead (computed from the same measurements, not run: Express "
            "has no task tokens, so the loop of Wait states and one Lambda look per state it would need):",
            "",
            "| integration | download | Standard, one supervising task (measured) | Express (computed) | difference |",
            "|---|---|---|---|---|",
        ]
        for r in express:
            e = r["express"]
            if not e["possible"]:
                lines.append(
                    f"| {r['integration']} | {duration_label(r['download_seconds'])} | {_usd(r['total_usd'])} "
                    "| not possible (an Express execution runs at most 5 minutes) | — |"
                )
                continue
            saving = e["saving_share"]
            direction = "cheaper" if saving >= 0 else "dearer"
            lines.append(
                f"| {r['integration']} | {duration_label(r['download_seconds'])} | {_usd(e['standard_usd'])} "
                f"| {_usd(e['express_usd'])} | Express {abs(saving) * 100:.0f} % {direction} |"
            )
    return "\n".join(lines) + "\n"


def prices_markdown() -> str:
    lines = ["| price | US dollars | per | source | note |", "|---|---|---|---|---|"]
    for name, price in PRICES.items():
        lines.append(f"| `{name}` | {price.usd:.10g} | {price.unit} | {price.source} | {price.note} |")
    return "\n".join(lines) + "\n"


def rewrite_block(text: str, name: str, content: str) -> str:
    block = f"<!-- bench:{name} -->\n{content}<!-- /bench:{name} -->"
    return re.sub(rf"<!-- bench:{name} -->.*?<!-- /bench:{name} -->", lambda _: block, text, flags=re.S)


def _verdict(measured: float, limit: float, unit: str, fmt: str = "{:.2f}") -> str:
    if measured <= limit:
        return "met"
    return f"MISSED by {fmt.format(measured - limit)} {unit}".rstrip()


def budget_lines(rows: list[dict[str, Any]]) -> list[str]:
    lines = []
    by = {(r["integration"], r["flow"], r["download_seconds"]): r for r in rows}
    for integration in ("ACCESS", "WEB_FORM"):
        for flow, duration, limit in BUDGETS:
            row = by.get((integration, flow, duration))
            if row is None:
                label = duration_label(duration)
                lines.append(f"| {integration}: {flow}, {label} ≤ ${limit:g} | not measured | MISSED |")
                continue
            total = cost.per_million(row["total_usd"])
            lines.append(
                f"| {integration}: {flow}, {duration_label(duration)} ≤ ${limit:g} per million | ${total:,.2f} "
                f"(+${cost.per_million(row['finapi_100ms_usd']):,.2f} per 100 ms of finAPI latency per call) "
                f"| {_verdict(total, limit, '$')} |"
            )
    return lines


def lag_lines(updates: list[dict[str, Any]]) -> list[str]:
    lines = []
    for row in updates:
        share = row.get("lag_share")
        if share is None:
            lines.append(f"| detection lag ≤ 15 %: {row['integration']}, {row['flow']} | no result | MISSED |")
            continue
        lines.append(
            f"| detection lag ≤ 15 %: {row['integration']}, {row['flow']}, {duration_label(row['download_seconds'])} "
            f"| {row['lag_seconds']} s ({share * 100:.1f} %) | "
            + ("met" if share <= LAG_TARGET else f"MISSED by {(share - LAG_TARGET) * 100:.1f} points")
            + " |"
        )
    return lines


def guarantee_lines(updates: list[dict[str, Any]]) -> list[str]:
    transitions = sorted({row["transitions"] for row in updates})
    ok = all(row["status"] == "SUCCEEDED" for row in updates)
    return [
        f"| every measured update succeeds, with one Standard transition each (start by name kept) "
        f"| {len(updates)} kinds, transitions {transitions}, all SUCCEEDED: {ok} | "
        + ("met" if ok and transitions == [1] else "MISSED")
        + " |"
    ]


def cold_lines(cold: dict[str, Any]) -> list[str]:
    lines = []
    for run in cold["runs"]:
        for r in run["functions"]:
            worst = max(r["cpu_ratio"], r["wall_ratio"])
            lines.append(
                f"| cold start ≤ {COLD_TARGET:g}× floor: {r['function']} ({run['integration']}, {r['memory_mb']} MB) "
                f"| INIT + 1st invocation {r['total_cpu_ms']} ms CPU ({r['cpu_ratio']}×), {r['total_wall_ms']} ms wall "
                f"({r['wall_ratio']}×); floor {run['floor_cpu_ms']} / {run['floor_wall_ms']} ms | "
                + ("met" if worst <= COLD_TARGET else f"MISSED by {worst - COLD_TARGET:.2f}×")
                + " |"
            )
    return lines


def latency_lines(latency: dict[str, Any]) -> list[str]:
    lines = []
    for r in latency["calls"]:
        lines.append(
            f"| our latency above finAPI ≤ {LATENCY_TARGET_MS:g} ms p95: {r['integration']}, {r['kind']} "
            f"| p50 {r['above_finapi_ms_p50']} ms, p95 {r['above_finapi_ms_p95']} ms ({r['aws_calls_mean']} AWS calls: "
            f"{r['aws_ms_p50']} ms on moto; our CPU {r['own_cpu_ms_p50']} ms; HTTP layer {r['http_layer_ms_p50']} ms) "
            f"| {_verdict(r['above_finapi_ms_p95'], LATENCY_TARGET_MS, 'ms', '{:.1f}')} |"
        )
    return lines


def targets_markdown(
    rows: list[dict[str, Any]], updates: list[dict[str, Any]], cold: dict[str, Any], latency: dict[str, Any]
) -> str:
    lines = ["| goal | measured | verdict |", "|---|---|---|"]
    lines += budget_lines(rows)
    lines += lag_lines(updates)
    lines += guarantee_lines(updates)
    lines += cold_lines(cold)
    lines += latency_lines(latency)
    lines.append(
        "| a correct cost model: Express with its per-look calls, GSI writes, INIT billing, DynamoDB prices for "
        "eu-central-1 | docs/cost-model.md (formula, inputs and sources; GSI writes and request units measured per "
        "call; INIT from bench/cold_start.py at 1 % cold starts; Express computed per look) | met |"
    )
    return "\n".join(lines) + "\n"


def misses_markdown(rows: list[dict[str, Any]], cold: dict[str, Any], latency: dict[str, Any]) -> str:
    """Why each missed goal is missed, in the run's own numbers."""
    lines: list[str] = []
    by = {(r["integration"], r["flow"], r["download_seconds"]): r for r in rows}
    for integration in ("ACCESS", "WEB_FORM"):
        for flow, duration, limit in BUDGETS:
            row = by.get((integration, flow, duration))
            if row is None or cost.per_million(row["total_usd"]) <= limit:
                continue
            top = sorted(row["usd"].items(), key=lambda kv: -kv[1])[:4]
            parts = ", ".join(f"{service} ${cost.per_million(usd):.2f}" for service, usd in top)
            lines.append(
                f"* **Cost, {integration} {flow} {duration_label(duration)}**: "
                f"${cost.per_million(row['total_usd']):.2f} "
                f"against ${limit:g}; the largest parts: {parts}."
            )
    cold_misses = [
        (run, r) for run in cold["runs"] for r in run["functions"] if max(r["cpu_ratio"], r["wall_ratio"]) > COLD_TARGET
    ]
    finapi = [(run, r) for run, r in cold_misses if "bankupdate.finapi.client" in r["loaded_at_first"]]
    others = [(run, r) for run, r in cold_misses if (run, r) not in finapi]
    if finapi:
        names = ", ".join(f"{r['function']} ({run['integration']}, {r['cpu_ratio']}× CPU)" for run, r in finapi)
        extra = sorted({m for _, r in finapi for m in r["loaded_at_first"]})
        lines.append(
            f"* **Cold start**: {names}. Each talks to finAPI for the user: beyond the floor (botocore and one "
            f"client) its first invocation loads {', '.join(extra)} and the finAPI models, makes clients for KMS and "
            "Secrets Manager besides DynamoDB, fetches finAPI tokens and validates finAPI's answers; the HTTP "
            "functions also load Powertools' resolver with its request validation (~50 ms of imports at INIT, "
            "asyncio among them). What is left is what the function uses; below 2× would take another HTTP client "
            "than httpx, or another router than Powertools'."
        )
    for run, r in others:
        worst = max(r["cpu_ratio"], r["wall_ratio"])
        waited = r["first_wall_ms"] - r["first_cpu_ms"]
        why = (
            f"its CPU ({r['cpu_ratio']}×) is within the goal; the wall-clock time is over because its first "
            f"invocation waits {waited:.1f} ms (wall − CPU) on the local stack's AWS calls, time the floor, which "
            "makes no call, does not have"
            if r["cpu_ratio"] <= COLD_TARGET
            else f"it loads no finAPI client; its first invocation spends {r['first_cpu_ms']} ms of CPU against the "
            f"floor's {run['floor_cpu_ms']} ms for everything"
        )
        lines.append(
            f"* **Cold start, {r['function']} ({run['integration']})**: {worst}× (CPU {r['cpu_ratio']}×, wall "
            f"{r['wall_ratio']}×), {worst - COLD_TARGET:.2f}× over: {why}."
        )
    slow = [r for r in latency["calls"] if r["above_finapi_ms_p95"] > LATENCY_TARGET_MS]
    if slow:
        per_call = [r["aws_ms_p50"] / r["aws_calls_mean"] for r in latency["calls"] if r["aws_calls_mean"]]
        names = ", ".join(
            f"{r['integration']} {r['kind']} ({r['aws_calls_mean']:g} AWS calls, {r['aws_ms_p50']} ms of them)"
            for r in slow
        )
        lines.append(
            f"* **Latency**: {names}. On the local stack an AWS call to moto takes "
            f"{statistics.median(per_call):.1f} ms (median over all calls measured); our own CPU is "
            f"{min(r['own_cpu_ms_p50'] for r in slow)}–{max(r['own_cpu_ms_p50'] for r in slow)} ms and the local HTTP "
            "layer 2–6 ms. The calls these requests make are the guarantees: the lock (one conditional write), the "
            "update's record before finAPI is called, the user's finAPI token (a read and a KMS Decrypt when the "
            "function has none cached), the record after finAPI answered, the workflow's start or heartbeat, an "
            "event. In AWS (latency.md, projected: CPU × the 512 MB CPU share + 10 ms per call) they stay above "
            "50 ms too; a function at 1,769 MB (one vCPU) would cut the CPU part by 3.5× at 3.5× the price per "
            "second waited."
        )
    return "\n".join(lines) + "\n" if lines else "Every goal is met.\n"


def scheduler_markdown(scheduler: list[dict[str, Any]]) -> str:
    lines = [
        "| due connections | AWS calls per connection | enqueue time on moto (s) | in our code (s) |",
        "|---|---|---|---|",
    ]
    for r in scheduler:
        lines.append(
            f"| {r['due_connections']:,} | {r['aws_calls_per_connection']} | {r['enqueue_seconds_on_moto']} "
            f"| {r['seconds_in_our_code']} |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    flows, cold, latency, scheduler = (
        load("flows.json"),
        load("cold_start.json"),
        load("latency.json"),
        load("scheduler.json"),
    )
    updates = flows["updates"]
    rows = cost_rows(updates, cold, scheduler)
    cost_md = cost_markdown(rows)
    summary = "\n".join(
        [
            "# Benchmark summary (last `make bench`)",
            "",
            "Every goal of issue 15 with its verdict. How each figure is made: docs/cost-model.md (cost), "
            "cold_start.md, latency.md, flows.md, scheduler.md (details).",
            "",
            "## Goals",
            "",
            targets_markdown(rows, updates, cold, latency),
            "## Why the missed goals are missed",
            "",
            misses_markdown(rows, cold, latency),
            "## Cost per million updates",
            "",
            cost_md,
            "## Scheduler",
            "",
            scheduler_markdown(scheduler),
        ]
    )
    (RESULTS / "summary.md").write_text(summary)
    (RESULTS / "cost.json").write_text(json.dumps({"per_update": rows}, indent=2) + "\n")
    doc = ROOT / "docs" / "cost-model.md"
    text = rewrite_block(doc.read_text(), "cost", cost_md)
    doc.write_text(rewrite_block(text, "prices", prices_markdown()))
    print(summary)


if __name__ == "__main__":
    main()
