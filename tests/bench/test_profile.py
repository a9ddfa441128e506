"""Where the simulated update comes from: measured alone where bench/invocations.py measured it, else side by side."""

from __future__ import annotations

import json
import shutil
import statistics
from pathlib import Path
from typing import Any

from bench.scale.profile import RESULTS, load_profile

FLOW = ("ACCESS", "user-present, no SCA", 60.0)


def _alone_runs() -> list[dict[str, Any]]:
    runs: list[dict[str, Any]] = json.loads((RESULTS / "invocations.json").read_text())["runs"]
    return runs


def test_the_rushs_update_is_the_one_measured_alone() -> None:
    # Given the committed results, where bench/invocations.py measured the rush's flow one update at a time
    runs = _alone_runs()
    # When the simulation loads that flow
    profile = load_profile(*FLOW)
    # Then its invocation times and polls are those updates' medians, not the side-by-side run's
    trigger = statistics.median(r["functions"]["TriggerUpdateFunction"]["seconds"] for r in runs)
    assert profile.measured == "alone"
    assert profile.start_seconds == trigger
    assert profile.polls == statistics.median(r["polls"] for r in runs)


def test_without_a_measurement_alone_the_side_by_side_one_stands(tmp_path: Path) -> None:
    # Given results without invocations.json
    for name in ("flows.json", "cost.json"):
        shutil.copy(RESULTS / name, tmp_path / name)
    # When the flow is loaded from them, and from the committed results asking for the side-by-side figures
    from_flows = load_profile(*FLOW, results=tmp_path)
    asked = load_profile(*FLOW, alone=False)
    # Then both are flows.json's, and that measurement's invocations were longer (each also waited for the others)
    assert from_flows == asked
    assert asked.measured == "side by side"
    assert asked.poll_seconds > load_profile(*FLOW).poll_seconds


def test_a_slower_finapi_lengthens_each_invocation_by_its_requests() -> None:
    # Given the rush's update, whose trigger and polls call finAPI
    profile = load_profile(*FLOW)
    assert profile.start_finapi_calls >= 1 and profile.poll_finapi_calls >= 1
    # When finAPI is taken to answer each request 0.1 s later than the sandbox
    slower = profile.with_finapi_latency(0.1)
    # Then the trigger and each poll hold their environment 0.1 s longer per request, and the polls come when they did
    assert slower.start_seconds == profile.start_seconds + 0.1 * profile.start_finapi_calls
    assert slower.poll_seconds == profile.poll_seconds + 0.1 * profile.poll_finapi_calls
    assert slower.poll_offsets == profile.poll_offsets
