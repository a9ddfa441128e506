"""Many updates against a flaky finAPI: every one ends in a terminal state with the right class, nothing stays
locked or running, and no user action ever reaches finAPI's (non-idempotent) update twice.

`make reliability` runs it larger (FAULT_UPDATES=100, FAULT_RATE=0.3) and writes bench/results/reliability.json.
"""

from __future__ import annotations

import json
import os
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import BankUser, running_stack

UPDATES = int(os.environ.get("FAULT_UPDATES", "12"))
RATE = float(os.environ.get("FAULT_RATE", "0.3"))
TERMINAL = {"SUCCEEDED", "FAILED", "EXPIRED"}
EXPECTED_CODES = {None, "UPSTREAM_UNAVAILABLE", "UPDATE_ALREADY_RUNNING", "TIMED_OUT", "DOWNLOAD_FAILED"}
RESULTS = Path(__file__).resolve().parents[2] / "bench" / "results"


@pytest.fixture(scope="module")
def stack(sandbox: Any) -> Iterator[Any]:
    with running_stack(sandbox, UpdateDeadlineSeconds="20") as local:
        yield local


def test_updates_under_injected_faults_all_end_cleanly(new_user: Any, sandbox: Any, stack: Any) -> None:
    # Given finAPI misbehaving at the given rate in every way we know: 5xx, lost answers, locks, slow and dropped reads
    sandbox.world.clear_faults()
    faults = [
        {"method": "POST", "path": "/update", "status": 500, "probability": RATE / 4},
        {"method": "POST", "path": "/update", "drop": True, "when": "after", "probability": RATE / 4},
        {"method": "POST", "path": "/update", "lock": True, "probability": RATE / 4},
        {"method": "POST", "path": "/update", "drop": True, "probability": RATE / 4},
        {"method": "GET", "path": "/bankConnections/", "status": 500, "probability": RATE},
        {"method": "GET", "path": "/bankConnections/", "delay_seconds": 0.3, "probability": RATE},
        {"method": "GET", "path": "/accounts/", "drop": True, "probability": RATE},
    ]
    for fault in faults:
        sandbox.world.add_fault(**fault)
    users: list[BankUser] = [new_user(download_seconds=0.3) for _ in range(UPDATES)]
    calls_before = len(sandbox.world.calls)
    try:
        # When every user syncs (a few at a time)
        def trigger(user: BankUser) -> tuple[BankUser, Any]:
            return user, user.api.trigger(user.connections["DEMO0001"], {"interface": "XS2A"})

        with ThreadPoolExecutor(max_workers=4) as pool:
            answers = list(pool.map(trigger, users))
        outcomes: list[dict[str, Any]] = []
        unrecorded: list[BankUser] = []
        for user, answer in answers:
            assert answer.status_code < 500 or answer.json()["error"]["code"] == "UPSTREAM_UNAVAILABLE", answer.text
            update_id = answer.json().get("updateId") or answer.json()["error"]["details"].get("updateId")
            if update_id is None:
                # finAPI failed while we checked the (first-seen) connection belongs to the user: nothing was
                # recorded, nothing was locked, finAPI's update was never called
                assert answer.json()["error"]["code"] == "UPSTREAM_UNAVAILABLE", answer.text
                unrecorded.append(user)
                continue
            outcomes.append(_wait_terminal(user, update_id, answer.text))
    finally:
        sandbox.world.clear_faults()
    # Then all ended, with errors we know how to explain, and nothing is left locked or running
    assert all(o["status"] in TERMINAL for o in outcomes)
    codes = Counter((o["status"], (o.get("error") or {}).get("code")) for o in outcomes)
    assert {code for _, code in codes} <= EXPECTED_CODES, codes
    for user in users:
        if user in unrecorded:
            assert user.api.connection(user.connections["DEMO0001"]).status_code == 404
            continue
        assert user.api.wait_until_unlocked(user.connections["DEMO0001"])["activeUpdateId"] is None
    sfn = stack.boto3_client("stepfunctions")
    machine = stack.physical_id("UpdateConnectionStateMachine")
    deadline = time.monotonic() + 15  # Finalize's Lambda returns a moment after it released the lock
    while sfn.list_executions(stateMachineArn=machine, statusFilter="RUNNING")["executions"]:
        assert time.monotonic() < deadline, "executions still running"
        time.sleep(0.1)
    # And each user action reached finAPI's update at most once
    calls = sandbox.world.calls[calls_before:]
    per_connection = Counter(c.connection_id for c in calls if c.path.endswith("/update"))
    assert max(per_connection.values()) == 1
    faults_seen = sum(1 for c in calls if c.status in (0, 423, 500))
    report = {
        "updates": UPDATES,
        "fault_rate": RATE,
        "finapi_calls": len(calls),
        "faults_injected_visible": faults_seen,
        "terminal_states": {f"{status}/{code}": n for (status, code), n in sorted(codes.items(), key=str)},
        "refused_before_recording": len(unrecorded),
        "stuck": 0,
    }
    if os.environ.get("FAULT_UPDATES"):
        RESULTS.mkdir(parents=True, exist_ok=True)
        (RESULTS / "reliability.json").write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))


def _wait_terminal(user: BankUser, update_id: str, trigger_answer: str, timeout: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        answer = user.api.update(update_id)
        body: dict[str, Any] = answer.json()
        if answer.status_code == 200 and body["status"] in TERMINAL:
            return body
        time.sleep(0.2)
    raise AssertionError(
        f"update {update_id} is stuck: {user.api.update(update_id).text}; trigger said {trigger_answer}"
    )
