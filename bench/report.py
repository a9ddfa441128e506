"""The summary of the last `make bench`: every goal of issue 19 (and the cold start and latency goals of issue 15,
still measured) with its verdict, the workflow's part per flow, the shapes compared, and the cost model's figures.

Reads bench/results/*.json (written by the other benchmarks, and the D19 baseline kept in baseline_d19.json), writes
bench/results/summary.md and cost.json, and rewrites the generated blocks of docs/cost-model.md, so the document
always shows the figures of the last run.
"""

from __future__ import annotations

import json
import math
import re
import statistics
from typing import Any

from bench import cost
from bench.harness import RESULTS, ROOT, duration_label
from bench.pricing import PRICES

NO_SCA, SCA, SCHEDULED = "user-present, no SCA", "user-present, 2 SCA rounds", "scheduled"
INTEGRATIONS = ("ACCESS", "WEB_FORM")
# Issue 19's budgets, US dollars per million updates, in both integrations.
BUDGETS: list[tuple[str, float, float]] = [
    (NO_SCA, 5.0, 60.0),
    (NO_SCA, 60.0, 120.0),
    (NO_SCA, 600.0, 700.0),
    (SCA, 5.0, 120.0),
    (SCHEDULED, 5.0, 70.0),
    (SCHEDULED, 60.0, 130.0),
    (SCHEDULED, 600.0, 700.0),
]
# Detection lag: at most this share of the download from 60 s on; at most LAG_SHORT_SECONDS below (a Wait state
# counts whole seconds).
LAG_TARGET = 0.15
LAG_SHORT_SECONDS = 1.5
LAG_SHARE_FROM_SECONDS = 60.0
COLD_TARGET = 2.0
LATENCY_TARGET_MS = 50.0
# The candidates of issue 19 item 3, in the order the tables show them.
SHAPES: list[tuple[str, str]] = [
    ("standard", "(a) Standard throughout"),
    ("express", "(b) Standard + Express throughout"),
    ("as_built", "(c) as built: Express loops, long gaps in Standard"),
]
BASELINE_FILE = "baseline_d19.json"
# Shapes within this share of the cheapest count as cheapest alike: (b) and (c) are read from different clocks (the
# Standard history's spans, the loops' own events), which differ by a few tenths of a second per loop.
TIE = 0.01


def load(name: str) -> Any:
    return json.loads((RESULTS / name).read_text())


def _usd(usd: float) -> str:
    return f"{cost.per_million(usd):,.2f}"


def _key(row: dict[str, Any]) -> tuple[str, str, float]:
    return row["integration"], row["flow"], float(row["download_seconds"])


def baseline() -> dict[tuple[str, str, float], dict[str, Any]]:
    """The D19 design's figures per flow (bench/results/baseline_d19.json, with where they came from)."""
    return {_key(row): row for row in load(BASELINE_FILE)["per_update"]}


def _shapes(row: dict[str, Any], runs: list[dict[str, Any]], total: float, sfn: float) -> dict[str, dict[str, float]]:
    """Each shape's Step Functions inputs and cost for this flow: the other shapes' from each replicate's measured
    inputs (bench/cost.py candidate_inputs), the median over the replicates; everything but Step Functions as
    measured in the shape built."""
    shapes: dict[str, dict[str, float]] = {}
    per_run = [cost.candidate_inputs(run) for run in runs]
    for name in ("standard", "express"):
        inputs = {
            key: statistics.median(p[name][key] for p in per_run)
            for key in ("transitions", "express_executions", "express_gb_seconds")
        }
        usd = sum(cost.stepfunctions_usd(inputs).values())
        shapes[name] = inputs | {"stepfunctions_usd": usd, "total_usd": total - sfn + usd}
    shapes["as_built"] = {
        "transitions": row["transitions"],
        "express_executions": row.get("express_executions", 0.0),
        "express_gb_seconds": row.get("express_gb_seconds", 0.0),
        "stepfunctions_usd": sfn,
        "total_usd": total,
    }
    return shapes


def cost_rows(
    flows: dict[str, Any],
    cold: dict[str, Any],
    scheduler: list[dict[str, Any]],
    d19: dict[tuple[str, str, float], dict[str, Any]] | None = None,
) -> list[dict[str, Any]]:
    d19 = baseline() if d19 is None else d19
    runs: dict[tuple[str, str, float], list[dict[str, Any]]] = {}
    for run in flows["runs"]:
        runs.setdefault(_key(run), []).append(run)
    rows = []
    for row in flows["updates"]:
        usd = cost.update_cost(row, cold, scheduler)
        total = sum(usd.values())
        sfn = usd["sfn standard"] + usd["sfn express"]
        functions = row["functions"]
        inputs = {
            "transitions": row["transitions"],
            "express_executions": row.get("express_executions", 0.0),
            "express_gb_seconds": row.get("express_gb_seconds", 0.0),
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
            "polls": row.get("polls", 0.0),
        }
        old = d19.get(_key(row))
        rows.append(
            {
                "integration": row["integration"],
                "flow": row["flow"],
                "download_seconds": row["download_seconds"],
                "states": row["states"],
                "inputs": inputs,
                "usd": usd,
                "total_usd": total,
                "finapi_100ms_usd": cost.finapi_latency_usd(row),
                "shapes": _shapes(row, runs.get(_key(row), []), total, sfn),
                "d19": None if old is None else {"total_usd": old["total_usd"], "polls": old["polls"]},
                "price_of_shape_usd": None if old is None else total - old["total_usd"],
            }
        )
    return rows


def inputs_markdown(rows: list[dict[str, Any]]) -> str:
    lines = [
        "The measured inputs per update (medians over the replicates; `bench/results/flows.json`). T: Standard "
        "transitions (states entered, retries included); X: Express executions (poll loops started); G: Express "
        "GB-seconds (each loop's start to stop in 100 ms steps, at 64 MB); n: Lambda invocations; B: billed "
        "GB-seconds as modelled; RRU / WRU / GSI: DynamoDB request units, index writes apart; Q: SQS requests "
        "(messages sent, in 64 KB chunks, plus the poller's receive and delete: the due connections' queue only); "
        "E: EventBridge events (64 KB chunks); K: KMS calls; H: HTTP API requests; L: log bytes our code wrote; "
        "polls: finAPI status reads.",
        "",
        "| integration | update | download | T | X | G (GB-s) | n | B (GB-s) | RRU | WRU | GSI | Q | E | K | H "
        "| L (KB) | polls |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        i = r["inputs"]
        lines.append(
            f"| {r['integration']} | {r['flow']} | {duration_label(r['download_seconds'])} | {i['transitions']:g} "
            f"| {i['express_executions']:g} | {i['express_gb_seconds']:.3f} "
            f"| {i['invocations']:.2f} | {i['billed_gb_seconds']:.3f} | {i['read_units']:g} | {i['write_units']:g} "
            f"| {i['index_write_units']:g} | {i['sqs_requests']:.2f} | {i['event_chunks']:g} | {i['kms_calls']:g} "
            f"| {i['http_requests']:g} | {i['log_bytes'] / 1024:.1f} | {i['polls']:g} |"
        )
    return "\n".join(lines) + "\n"


def _signed(usd: float) -> str:
    return f"{'+' if usd >= 0 else '−'}{_usd(abs(usd))}"


def shapes_markdown(rows: list[dict[str, Any]]) -> str:
    """The candidates of issue 19 item 3 and the D19 baseline, per flow."""
    lines = [
        "The shapes compared, US dollars per million updates: each one's total, its Step Functions part in "
        "brackets. (c) is measured; (a) and (b) are computed from the same updates' measured inputs "
        "(`bench/cost.py` `candidate_inputs`, medians over the replicates): (a) every Poll state the loops ran "
        f"becomes a Wait, the Poll task and a Choice in the Standard workflow ({cost.STANDARD_TRANSITIONS_PER_POLL} "
        "transitions), no Express; (b) each polling span of the update's execution (Poll to the next wait for the "
        "user or the end, the Standard waits between polls included) is polled in Express loops throughout, "
        f"a fresh loop every {cost.LOOP_LIFE_SECONDS:g} s, its whole length billed at 64 MB. In both the user's "
        "waits, Finalize and the tasks' retries stay as measured, and so does everything that is not Step "
        "Functions (each poll is one PollUpdateStatus invocation whichever machine runs it). (b) and (c) differ only "
        "where a gap exceeded the break-even (~73 s, once the download is ~10 minutes old) and was handed to the "
        "Standard workflow; otherwise they differ by how they are read (the spans from the Standard history, the "
        f"loops from their own events), and shapes within {TIE * 100:g} % of the cheapest count as cheapest alike. "
        "D19: the old design's figures (`bench/results/baseline_d19.json`); the price of the shape: (c) − D19.",
        "",
        "| integration | update | download | " + " | ".join(label for _, label in SHAPES) + " | cheapest "
        "| D19 baseline | price of the shape |",
        "|---|---|---|" + "---|" * (len(SHAPES) + 3),
    ]
    for r in rows:
        shapes = r["shapes"]
        cells = " | ".join(
            f"{_usd(shapes[name]['total_usd'])} ({_usd(shapes[name]['stepfunctions_usd'])})" for name, _ in SHAPES
        )
        least = min(shapes[name]["total_usd"] for name, _ in SHAPES)
        cheapest = ", ".join(
            label.split(" ", 1)[0] for name, label in SHAPES if shapes[name]["total_usd"] <= least * (1 + TIE)
        )
        d19 = _usd(r["d19"]["total_usd"]) if r["d19"] else "—"
        price = _signed(r["price_of_shape_usd"]) if r["price_of_shape_usd"] is not None else "—"
        lines.append(
            f"| {r['integration']} | {r['flow']} | {duration_label(r['download_seconds'])} | {cells} | {cheapest} "
            f"| {d19} | {price} |"
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
    lines += ["", shapes_markdown(rows).rstrip("\n")]
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
    by = {_key(r): r for r in rows}
    for integration in INTEGRATIONS:
        for flow, duration, limit in BUDGETS:
            row = by.get((integration, flow, duration))
            label = duration_label(duration)
            if row is None:
                lines.append(f"| {integration}: {flow}, {label} ≤ ${limit:g} per million | not measured | MISSED |")
                continue
            total = cost.per_million(row["total_usd"])
            sfn = cost.per_million(row["usd"]["sfn standard"] + row["usd"]["sfn express"])
            lines.append(
                f"| {integration}: {flow}, {label} ≤ ${limit:g} per million | ${total:,.2f} (Step Functions "
                f"${sfn:,.2f}; +${cost.per_million(row['finapi_100ms_usd']):,.2f} per 100 ms of finAPI latency per "
                f"call) | {_verdict(total, limit, '$')} |"
            )
    return lines


def _lag_goal(row: dict[str, Any]) -> tuple[str, bool | None, str]:
    """(goal, met, measured) of one flow's detection lag."""
    short = row["download_seconds"] < LAG_SHARE_FROM_SECONDS
    goal = f"≤ {LAG_SHORT_SECONDS:g} s" if short else f"≤ {LAG_TARGET * 100:g} % of the download"
    lag, share = row.get("lag_seconds"), row.get("lag_share")
    if lag is None or share is None:
        return goal, None, "no result"
    met = lag <= LAG_SHORT_SECONDS if short else share <= LAG_TARGET
    return goal, met, f"{lag} s ({share * 100:.1f} %)"


def lag_lines(updates: list[dict[str, Any]]) -> list[str]:
    lines = []
    for row in updates:
        goal, met, measured = _lag_goal(row)
        label = f"{row['integration']}, {row['flow']}, {duration_label(row['download_seconds'])}"
        if met is None:
            verdict = "MISSED"
        elif met:
            verdict = "met"
        elif row["download_seconds"] < LAG_SHARE_FROM_SECONDS:
            verdict = f"MISSED by {row['lag_seconds'] - LAG_SHORT_SECONDS:.2f} s"
        else:
            verdict = f"MISSED by {(row['lag_share'] - LAG_TARGET) * 100:.1f} points"
        lines.append(f"| detection lag {goal}: {label} | {measured} | {verdict} |")
    return lines


def guarantee_lines(updates: list[dict[str, Any]]) -> list[str]:
    """What the shape promises, as the run measured it."""
    statuses = sorted({s for row in updates for s in row.get("statuses", {row["status"]: 1})})
    succeeded = statuses == ["SUCCEEDED"]
    outside = sum(row.get("polls_outside_loops", 0.0) for row in updates)
    slept = sum(f["slept_seconds"] for row in updates for f in row["functions"].values())
    poll_sqs = sum(row.get("sqs_chunks", 0.0) for row in updates)
    loops = sorted({s for row in updates for s in row.get("express_statuses", {})})
    unlisted = [row for row in updates if row.get("polls_in_history") != row.get("polls")]
    return [
        f"| every measured update succeeds (start by name kept) | {len(updates)} kinds, outcomes {statuses} "
        f"| {'met' if succeeded else 'MISSED'} |",
        f"| every poll is a state of a poll loop: no finAPI status read outside PollUpdateStatus, no Lambda sleeps "
        f"through a gap, no SQS message carries a poll | status reads elsewhere {outside:g}, seconds slept in "
        f"Lambda {slept:.3f}, SQS messages sent per update {poll_sqs:g} "
        f"| {'met' if outside == 0 and slept == 0 and poll_sqs == 0 else 'MISSED'} |",
        f"| every Express poll loop ends within Express's five minutes | loop outcomes {loops} "
        f"| {'met' if loops == ['SUCCEEDED'] else 'MISSED'} |",
        "| the execution history lists every poll | "
        + (
            "history polls = finAPI status reads in every kind"
            if not unlisted
            else "; ".join(
                f"{r['integration']} {r['flow']} {duration_label(r['download_seconds'])}: "
                f"{r.get('polls_in_history')} listed, {r.get('polls')} made"
                for r in unlisted
            )
        )
        + f" | {'met' if not unlisted else 'MISSED'} |",
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
    return "\n".join(lines) + "\n"


def per_flow_markdown(rows: list[dict[str, Any]], updates: list[dict[str, Any]]) -> str:
    """What issue 19 asks the summary to state per flow."""
    by = {_key(u): u for u in updates}
    lines = [
        "Per flow (medians over the replicates): the Standard workflow's transitions (the first replicate's "
        "states), the Express poll loops, the polls, and the price of the shape against the D19 baseline (one "
        "Supervise transition, polls slept in Lambda or parked on SQS), US dollars per million updates.",
        "",
        "| integration | update | download | Standard transitions | Express executions | Express GB-s | polls "
        "| total | D19 total (polls) | price of the shape |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    notes = []
    for r in rows:
        update = by[_key(r)]
        waits = update.get("state_entries", {}).get("AwaitUser", 0)
        if waits > 2:
            notes.append(
                f"* {r['integration']} {r['flow']} {duration_label(r['download_seconds'])}: the update waited for its "
                f"user {waits:g} times ({update['state_seconds'].get('AwaitUser', 0):.0f} s in AwaitUser, "
                f"{update['transitions']:g} transitions): each Poll task's loop handed the update straight back "
                "(UserNeeded: finAPI still showed the user's step), and the next poll came when AwaitUser timed out "
                "(its fallback for a lost callback) or finAPI called back."
            )
        d19 = f"{_usd(r['d19']['total_usd'])} ({r['d19']['polls']:g})" if r["d19"] else "—"
        price = _signed(r["price_of_shape_usd"]) if r["price_of_shape_usd"] is not None else "—"
        lines.append(
            f"| {r['integration']} | {r['flow']} | {duration_label(r['download_seconds'])} "
            f"| {update['transitions']:g} ({' → '.join(update['states'])}) | {update['express_executions']:g} "
            f"| {update['express_gb_seconds']:.3f} | {update['polls']:g} | {_usd(r['total_usd'])} | {d19} "
            f"| {price} |"
        )
    if notes:
        lines += ["", *notes]
    return "\n".join(lines) + "\n"


def _download_floor_usd(row: dict[str, Any]) -> float:
    """What this flow would cost if its poll loops had run exactly the download's length (no first gap, no detection
    lag, no start-up): its measured Standard transitions, a loop per Poll task (and one per LOOP_LIFE_SECONDS of the
    download) billed the download's seconds at 64 MB, and everything else as measured."""
    usd = row["usd"]
    download = float(row["download_seconds"])
    loops = max(row["states"].count("Poll"), math.ceil(download / cost.LOOP_LIFE_SECONDS))
    express = {"transitions": 0.0, "express_executions": loops, "express_gb_seconds": download * cost.EXPRESS_MEMORY_GB}
    return float(row["total_usd"] - usd["sfn express"] + cost.stepfunctions_usd(express)["sfn express"])


def _cost_miss(row: dict[str, Any], limit: float) -> str:
    i, usd, shapes = row["inputs"], row["usd"], row["shapes"]
    sfn = usd["sfn standard"] + usd["sfn express"]
    rest = sorted(((k, v) for k, v in usd.items() if not k.startswith("sfn")), key=lambda kv: -kv[1])[:3]
    seconds = i["express_gb_seconds"] / cost.EXPRESS_MEMORY_GB
    others = ", ".join(
        f"{label.split(' ', 1)[0]} ${cost.per_million(shapes[name]['total_usd']):.2f}"
        for name, label in SHAPES
        if name != "as_built"
    )
    meeting = [label.split(" ", 1)[0] for name, label in SHAPES if cost.per_million(shapes[name]["total_usd"]) <= limit]
    floor = cost.per_million(_download_floor_usd(row))
    verdict = (
        f"{' and '.join(meeting)} would meet it"
        if meeting
        else "none of the shapes compared meets it"
        + (
            f"; even loops that ran exactly the download's {duration_label(row['download_seconds'])} would cost "
            f"${floor:.2f}: the goal is below what this shape costs for this flow"
            if floor > limit
            else f"; loops that ran exactly the download's {duration_label(row['download_seconds'])} would cost "
            f"${floor:.2f}: what is over the goal is the loops' time beyond the download (the first gap, the "
            "detection lag, starting each loop and its polls)"
        )
    )
    return (
        f"* **Cost, {row['integration']} {row['flow']} {duration_label(row['download_seconds'])}**: "
        f"${cost.per_million(row['total_usd']):.2f} against ${limit:g}. Step Functions "
        f"${cost.per_million(sfn):.2f}: {i['transitions']:g} Standard transition(s) "
        f"({' → '.join(row['states'])}; ${cost.per_million(usd['sfn standard']):.2f}) and "
        f"{i['express_executions']:g} poll loop(s) billed {seconds:.1f} s at 64 MB for a "
        f"{duration_label(row['download_seconds'])} download (${cost.per_million(usd['sfn express']):.2f}); the rest "
        f"${cost.per_million(row['total_usd'] - sfn):.2f} (largest: "
        + ", ".join(f"{k} ${cost.per_million(v):.2f}" for k, v in rest)
        + f"). The other shapes for this flow: {others}; {verdict}."
    )


def _lag_miss(row: dict[str, Any]) -> str:
    goal, _, measured = _lag_goal(row)
    gap = row.get("last_gap_seconds")
    outside = row.get("lag_before_poll_task_seconds") or 0.0
    poll = row["functions"].get("PollUpdateStatusFunction", {})
    poll_seconds = poll.get("seconds", 0.0) / poll["invocations"] if poll.get("invocations") else 0.0
    parts = [f"* **Detection lag, {row['integration']} {row['flow']} {duration_label(row['download_seconds'])}**: "
             f"{measured} against {goal}."]  # fmt: skip
    if outside > 0:
        parts.append(
            f"The download ended while the update waited in the Standard workflow ({' → '.join(row['states'])}): "
            f"the last Poll task began {outside:.2f} s after it, and its fresh loop took "
            f"{row['lag_seconds'] - outside:.2f} s more to see the end: its first Wait (1 s: a Wait state counts "
            "whole seconds, and finAPI asks for at most one read a second), the loop's start and the poll itself "
            f"(a poll took {poll_seconds:.2f} s here, wall time on this loaded machine)."
        )
    elif gap is not None:
        parts.append(
            f"The last gap a poll chose before the end was {gap:g} s (a Wait state counts whole seconds, and finAPI "
            f"asks for at most one read a second); a poll took {poll_seconds:.2f} s here (wall time on this loaded "
            "machine, moto's calls included)."
        )
    return " ".join(parts)


def misses_markdown(
    rows: list[dict[str, Any]], updates: list[dict[str, Any]], cold: dict[str, Any], latency: dict[str, Any]
) -> str:
    """Why each missed goal is missed, in the run's own numbers."""
    lines: list[str] = []
    by = {_key(r): r for r in rows}
    for integration in INTEGRATIONS:
        for flow, duration, limit in BUDGETS:
            row = by.get((integration, flow, duration))
            if row is not None and cost.per_million(row["total_usd"]) > limit:
                lines.append(_cost_miss(row, limit))
    lines += [_lag_miss(row) for row in updates if _lag_goal(row)[1] is False]
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
            "function has none cached), the record after finAPI answered, the workflow's start or the end of its "
            "wait, an event. In AWS (latency.md, projected: CPU × the 512 MB CPU share + 10 ms per call) they stay "
            "above 50 ms too; a function at 1,769 MB (one vCPU) would cut the CPU part by 3.5× at 3.5× the price "
            "per second waited."
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
    rows = cost_rows(flows, cold, scheduler)
    cost_md = cost_markdown(rows)
    summary = "\n".join(
        [
            "# Benchmark summary (last `make bench`)",
            "",
            "The workflow of decision D26 (issue 19): a Standard execution per update whose Poll task runs Express "
            "poll loops (Wait, Poll, Decide) and waits for its user, a long gap or finAPI's callback itself. Every "
            "goal of issue 19 with its verdict, and issue 15's cold start and latency goals, still measured. How "
            "each figure is made: docs/cost-model.md (cost), cold_start.md, latency.md, flows.md, scheduler.md "
            "(details).",
            "",
            "## Goals",
            "",
            targets_markdown(rows, updates, cold, latency),
            "## Why the missed goals are missed",
            "",
            misses_markdown(rows, updates, cold, latency),
            "## The workflow per flow, and the price of the shape",
            "",
            per_flow_markdown(rows, updates),
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
