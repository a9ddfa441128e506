"""The summary of the last `make bench`: every target with its verdict, and the cost model's figures.

Reads bench/results/*.json (written by the other benchmarks), writes bench/results/summary.md and rewrites the
generated block of docs/cost-model.md, so the document always shows the inputs of the last run.
"""

from __future__ import annotations

import json
import re
from typing import Any

from bench.harness import RESULTS, ROOT
from bench.pricing import (
    PRICES_USD,
    aws_calls_usd_by_service,
    lambda_usd,
    logs_usd,
)

SERVICES = ["stepfunctions", "lambda", "dynamodb", "events", "sqs", "kms", "secretsmanager", "apigateway", "logs"]
# What a banking app does around one user-present update: the trigger, then two status reads until it is done.
APP_STATUS_READS = 2
# Lambda's SQS event source reads and deletes in batches of ten: one receive and one delete per ten messages.
SQS_CONSUMER_REQUESTS_PER_MESSAGE = 0.2


def load(name: str) -> Any:
    return json.loads((RESULTS / name).read_text())


def _add(total: dict[str, float], part: dict[str, float], times: float = 1.0) -> None:
    for service, usd in part.items():
        total[service] = total.get(service, 0.0) + usd * times


def measured_update(row: dict[str, Any]) -> dict[str, float]:
    """The cost of one metered update (bench/polling.py), per service."""
    invocations = sum(row["invocations"].values())
    cost = {
        "stepfunctions": row["cost_usd"]["stepfunctions"],
        "lambda": lambda_usd(invocations, row["gb_seconds"]),
        "logs": row["cost_usd"]["logs"],
    }
    _add(cost, aws_calls_usd_by_service(row["aws_calls"]))
    return cost


def warm_invocation(warm: dict[str, Any], function: str) -> dict[str, float]:
    """One warm invocation of ``function`` as bench/warm.py measured it (median duration, mean AWS calls)."""
    row = next(r for r in warm["functions"] if r["function"] == function)
    gb_seconds = row["duration_ms_median"] / 1000 * row["memory_mb"] / 1024
    cost = {"lambda": lambda_usd(1, gb_seconds), "logs": logs_usd(0, 1)}
    _add(cost, aws_calls_usd_by_service(row["aws_calls"]))
    return cost


def http_request(warm: dict[str, Any], function: str) -> dict[str, float]:
    cost = warm_invocation(warm, function)
    _add(cost, {"apigateway": PRICES_USD["apigateway.http_request"]})
    return cost


def cost_table(
    polling: list[dict[str, Any]], warm: dict[str, Any], scheduler: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    rows = []
    biggest_run = max(scheduler, key=lambda r: r["due_connections"])
    for source in (r for r in polling if r["strategy"] == "adaptive"):
        duration = source["download_seconds"]
        base = measured_update(source)
        if source["mode"] == "user-present":
            plain = dict(base)
            _add(plain, {"apigateway": PRICES_USD["apigateway.http_request"]})  # the trigger request
            _add(plain, http_request(warm, "QueryFunction"), APP_STATUS_READS)
            rows.append({"update": "user-present, no SCA", "download_seconds": duration, "usd": plain})
            tan = dict(plain)
            for _ in range(2):  # procedure choice, then the TAN: each round parks once and is answered once
                _add(tan, warm_invocation(warm, "AwaitUserFunction"))
                _add(tan, http_request(warm, "CollectCredentialsFunction"))
                _add(tan, {"stepfunctions": 2 * PRICES_USD["stepfunctions.standard_transition"]})
            rows.append({"update": "user-present, 2 SCA rounds", "download_seconds": duration, "usd": tan})
        else:
            scheduled = dict(base)
            share = {k: v / biggest_run["due_connections"] for k, v in biggest_run["aws_calls"].items()}
            _add(scheduled, aws_calls_usd_by_service(share))
            _add(scheduled, {"sqs": SQS_CONSUMER_REQUESTS_PER_MESSAGE * PRICES_USD["sqs.request"]})
            rows.append({"update": "scheduled (unattended)", "download_seconds": duration, "usd": scheduled})
    return rows


def express_alternative(polling: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """What the scheduled updates measured would cost as Express executions (computed, not run: see D17).

    Express bills requests and duration (64 MB steps of state size) instead of transitions; a Lambda sleeping inside
    an Express execution would be billed twice, so the loop would wait in Wait states and each look be one short
    poll invocation (the median warm poll invocation, 128 MB)."""
    out = []
    for row in (r for r in polling if r["strategy"] == "adaptive" and r["mode"] == "scheduled"):
        standard = measured_update(row)
        total_standard = sum(standard.values())
        execution_seconds = row["measured_download_seconds"] + 2.0
        express_sfn = (
            PRICES_USD["stepfunctions.express_request"]
            + execution_seconds * 0.0625 * PRICES_USD["stepfunctions.express_gb_second"]
        )
        poll_inline = lambda_usd(0, row["poll_gb_seconds"])
        looks = lambda_usd(row["finapi_looks"], row["finapi_looks"] * 0.05 * 0.125)
        total_express = total_standard - standard["stepfunctions"] - poll_inline + express_sfn + looks
        out.append(
            {
                "download_seconds": row["download_seconds"],
                "standard_usd": total_standard,
                "express_usd": total_express,
                "saving_share": 1 - total_express / total_standard,
            }
        )
    return out


def _per_million(usd: float) -> str:
    return f"{usd * 1e6:,.2f}"


def cost_markdown(rows: list[dict[str, Any]], express: list[dict[str, Any]]) -> str:
    header = "| update | download | " + " | ".join(SERVICES) + " | **total** |"
    lines = [
        "US dollars **per million updates** (eu-central-1 list prices, `bench/pricing.py`):",
        "",
        header,
        "|---|---|" + "---|" * (len(SERVICES) + 1),
    ]
    for row in rows:
        usd = row["usd"]
        cells = " | ".join(_per_million(usd.get(s, 0.0)) for s in SERVICES)
        lines.append(
            f"| {row['update']} | {row['download_seconds']:g} s | {cells} | **{_per_million(sum(usd.values()))}** |"
        )
    if express:
        lines += [
            "",
            "Scheduled updates as Express executions instead (computed from the same measurements; decision D17; "
            "the scheduler's SQS share, the same for both, left out):",
            "",
            "| download | Standard (measured) | Express (computed) | saving |",
            "|---|---|---|---|",
        ]
        for e in express:
            lines.append(
                f"| {e['download_seconds']:g} s | {_per_million(e['standard_usd'])} | {_per_million(e['express_usd'])} "
                f"| {e['saving_share'] * 100:.0f} % |"
            )
    return "\n".join(lines) + "\n"


def targets_markdown(
    cold: dict[str, Any], warm: dict[str, Any], polling: list[dict[str, Any]], scheduler: list[dict[str, Any]]
) -> str:
    lines = ["| target | measured | verdict |", "|---|---|---|"]
    worst = max(cold["functions"], key=lambda r: r["ratio_to_floor"])
    worst_wall = max(cold["functions"], key=lambda r: r["wall_ratio_to_floor"])
    lines.append(
        f'| cold start ≤ 1.3× `boto3.client("dynamodb")` (CPU time) | worst: {worst["function"]} '
        f"{worst['ratio_to_floor']}× ({worst['init_cpu_ms_median']} ms vs floor {cold['floor_cpu_ms_median']} ms CPU; "
        f"wall-clock worst: {worst_wall['function']} {worst_wall['wall_ratio_to_floor']}×) | "
        + ("met" if worst["ratio_to_floor"] <= 1.3 else f"MISSED by {worst['ratio_to_floor'] - 1.3:.2f}×")
        + " |"
    )
    layer = cold["layer"]
    lines.append(f"| layer size (report) | {layer['unzipped_mb']} MB unzipped, {layer['zipped_mb']} MB zipped | — |")
    worst_own = max(warm["functions"], key=lambda r: r["own_cpu_ms_median"])
    worst_ours = max(warm["functions"], key=lambda r: r["own_cpu_without_botocore_ms_median"])
    worst_wall = max(warm["functions"], key=lambda r: r["own_wall_ms_median"])
    own, ours = worst_own["own_cpu_ms_median"], worst_ours["own_cpu_without_botocore_ms_median"]
    lines.append(
        f"| warm overhead ≤ 5 ms median (own CPU, botocore counted as ours) | worst: {worst_own['function']} "
        f"{own} ms (wall-clock on the local stack: worst {worst_wall['function']} "
        f"{worst_wall['own_wall_ms_median']} ms) | " + ("met" if own <= 5 else f"MISSED by {own - 5:.1f} ms") + " |"
    )
    lines.append(
        f"| warm overhead ≤ 5 ms median (own CPU without botocore) | worst: {worst_ours['function']} {ours} ms | "
        + ("met" if ours <= 5 else f"MISSED by {ours - 5:.1f} ms")
        + " |"
    )
    by = {(r["strategy"], r["mode"], r["download_seconds"]): r for r in polling}
    for duration, limit in ((60.0, 12), (600.0, 25)):
        row = by.get(("adaptive", "user-present", duration))
        if row:
            lines.append(
                f"| ≤ {limit} transitions at {duration:g} s | {row['transitions']} | "
                + ("met" if row["transitions"] <= limit else f"MISSED by {row['transitions'] - limit}")
                + " |"
            )
    for duration in sorted({r["download_seconds"] for r in polling}):
        row, naive = by.get(("adaptive", "user-present", duration)), by.get(("naive", "user-present", duration))
        if row is None:
            continue
        share = row["lag_share"]
        lines.append(
            f"| detection lag ≤ 15 % at {duration:g} s | {row['lag_seconds']} s ({share * 100:.1f} %) | "
            + ("met" if share <= 0.15 else f"MISSED by {(share - 0.15) * 100:.1f} points")
            + " |"
        )
        if naive:
            ratio = naive["cost_usd_total"] / row["cost_usd_total"]
            lines.append(
                f"| ≥ 3× cheaper than a fixed 5 s loop at {duration:g} s | {ratio:.1f}× ({naive['transitions']} vs "
                f"{row['transitions']} transitions) | "
                + ("met" if ratio >= 3 else f"MISSED by {3 - ratio:.1f}×")
                + " |"
            )
    for run in scheduler:
        per = run["aws_calls_per_connection"]
        lines.append(
            f"| scheduler ≤ 0.3 AWS calls per connection ({run['due_connections']:,} due) | {per}; enqueue "
            f"{run['enqueue_seconds_on_moto']} s on moto ({run['seconds_in_our_code']} s in our code) | "
            + ("met" if per <= 0.3 else f"MISSED by {per - 0.3:.3f}")
            + " |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    cold, warm = load("cold_start.json"), load("warm.json")
    polling, scheduler = load("polling.json"), load("scheduler.json")
    costs = cost_table(polling, warm, scheduler)
    express = express_alternative(polling)
    cost_md = cost_markdown(costs, express)
    summary = "\n".join(
        [
            "# Benchmark summary (last `make bench`)",
            "",
            "## Targets",
            "",
            targets_markdown(cold, warm, polling, scheduler),
            "Details: cold_start.md, warm.md, polling.md, transitions.md, scheduler.md.",
            "",
            "## Cost",
            "",
            cost_md,
        ]
    )
    (RESULTS / "summary.md").write_text(summary)
    (RESULTS / "cost.json").write_text(json.dumps({"per_update": costs, "express": express}, indent=2) + "\n")
    doc = ROOT / "docs" / "cost-model.md"
    text = doc.read_text()
    block = f"<!-- bench:cost -->\n{cost_md}<!-- /bench:cost -->"
    doc.write_text(re.sub(r"<!-- bench:cost -->.*?<!-- /bench:cost -->", lambda _: block, text, flags=re.S))
    print(summary)


if __name__ == "__main__":
    main()
