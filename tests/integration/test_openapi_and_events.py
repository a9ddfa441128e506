"""The committed OpenAPI document matches the handlers, and every sample event in events/ is one its function takes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import BaseModel

from bankupdate.contract import DueConnection, FinalizeTask, ParkTask, PollRequest
from scripts.openapi import DOCUMENT, render

ROOT = Path(__file__).resolve().parents[2]
EVENTS = ROOT / "events"


def test_committed_openapi_document_matches_the_code() -> None:
    assert DOCUMENT.read_text() == render(), "docs/openapi.json drifted from the handlers: run `make openapi`"


@pytest.mark.parametrize("event_file", sorted(p.name for p in EVENTS.glob("*.json")))
def test_sample_events_fit_their_functions(event_file: str) -> None:
    event = json.loads((EVENTS / event_file).read_text())
    if "routeKey" in event:
        method, route = event["routeKey"].split(" ", 1)
        documented = json.loads(DOCUMENT.read_text())["paths"]
        assert route in documented and method.lower() in documented[route], event_file
        assert event["rawPath"].count("/") == route.count("/"), event_file
        return
    tasks: dict[str, type[BaseModel]] = {
        "poll_update_status": PollRequest,
        "park_task_token": ParkTask,
        "finalize": FinalizeTask,
    }
    queued: dict[str, type[BaseModel]] = {"start_scheduled_update": DueConnection}
    stem = event_file.removesuffix(".json")
    for variant in ("_after_timeout", "_from_poll_loop", "_first"):
        stem = stem.removesuffix(variant)
    if stem in tasks:
        tasks[stem].model_validate(event)
    elif stem in queued:
        for record in event["Records"]:
            queued[stem].model_validate_json(record["body"])
    else:
        assert stem in ("schedule_updates", "reconcile_stale_updates"), event_file
        assert event["source"] == "aws.scheduler", event_file
