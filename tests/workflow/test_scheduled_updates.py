"""Scheduled (unattended) updates: due connections, skip rules, the bank's budget, exactly-once per slot."""

from __future__ import annotations

import json
import time
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from bankupdate import composition
from tests.conftest import register_finapi_user
from tests.support.api_client import BankUpdateApi


def sync(stack: Any, sub: str) -> list[int]:
    url = f"{stack.api_url}/v1/admin/users/{sub}/connections/sync"
    answer = httpx.post(url, headers=stack.admin_headers("POST", url, b""))
    assert answer.status_code == 200, answer.text
    ids: list[int] = answer.json()["connectionIds"]
    return ids


def executions(stack: Any) -> list[dict[str, Any]]:
    sfn = stack.boto3_client("stepfunctions")
    found: list[dict[str, Any]] = []
    kwargs = {"stateMachineArn": stack.physical_id("UpdateConnectionStateMachine")}
    while True:
        page = sfn.list_executions(**kwargs)
        found += page["executions"]
        if not page.get("nextToken"):
            return found
        kwargs["nextToken"] = page["nextToken"]


def wait_until_settled(stack: Any, timeout: float = 240) -> None:
    """Until the queue is empty and no update runs. Fifty updates take about a minute on an idle two-core machine and
    several on a loaded one: the bound only keeps a broken run from hanging."""
    sqs = stack.boto3_client("sqs")
    url = stack.physical_id("ScheduleQueue")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
        queued = int(attributes["ApproximateNumberOfMessages"]) + int(
            attributes["ApproximateNumberOfMessagesNotVisible"]
        )
        running = [e for e in executions(stack) if e["status"] == "RUNNING"]
        if queued == 0 and not running:
            return
        time.sleep(0.2)
    raise AssertionError("scheduled work did not settle")


def test_a_schedule_over_fifty_connections_starts_exactly_the_eligible_ones_once(stack: Any, sandbox: Any) -> None:
    # Given one user with 50 connections in mixed states
    suffix = uuid.uuid4().hex[:8]
    sub, username = f"sched-{suffix}", f"finapi-sched-{suffix}"
    sandbox.world.create_user(username, "pw")
    now = datetime.now(UTC)
    kinds: dict[int, str] = {}
    for n in range(50):
        kind = [
            "eligible",
            "eligible",
            "eligible",
            "needs_user",
            "consent_expired",
            "opted_out",
            "budget_used",
            "expiring",
        ][n % 8]
        options: dict[str, Any] = {"download_seconds": 0.2}
        if kind == "needs_user":
            options["user_action_required"] = True
        if kind == "consent_expired":
            options["consent_expires_at"] = now - timedelta(days=1)
        if kind == "expiring":
            options["consent_expires_at"] = now + timedelta(days=3)
        kinds[sandbox.world.add_connection(username, **options)] = kind
    register_finapi_user(stack, sub, username, "pw")
    assert sorted(sync(stack, sub)) == sorted(kinds)
    api = BankUpdateApi(stack.api_url, stack.issue_token(sub=sub))
    for connection_id, kind in kinds.items():
        answer = api.connection_schedule(connection_id, enabled=kind != "opted_out")
        assert answer.status_code == 200, answer.text
    adapters = composition.adapters()
    for connection_id, kind in kinds.items():
        if kind == "budget_used":
            for _ in range(4):
                assert adapters.schedules.consume_unattended(
                    sub, connection_id, budget=adapters.settings.budget, now=now
                )
    calls_before = len(sandbox.world.calls)

    # When the schedule fires twice in a row and SQS delivers a message again
    first = stack.fire_schedule("ScheduleUpdatesFunctionScheduler")
    second = stack.fire_schedule("ScheduleUpdatesFunctionScheduler")
    sqs = stack.boto3_client("sqs")
    duplicate = {"ownerId": sub, "connectionId": next(iter(kinds)), "slot": now.isoformat()}
    sqs.send_message(QueueUrl=stack.physical_id("ScheduleQueue"), MessageBody=json.dumps(duplicate))
    wait_until_settled(stack)

    # Then every eligible connection was updated exactly once, without PSU data, and nobody else was touched
    eligible = {c for c, k in kinds.items() if k in ("eligible", "expiring")}
    assert first["due"] >= len(kinds) - 7  # the opted-out ones are not in the due index
    assert second["enqueued"] <= first["enqueued"]
    update_calls = Counter(
        c.connection_id for c in sandbox.world.calls[calls_before:] if c.path.endswith("/bankConnections/update")
    )
    assert set(update_calls) == eligible
    assert set(update_calls.values()) == {1}
    assert not any(c.psu_present for c in sandbox.world.calls[calls_before:] if c.path.endswith("/update"))
    mine = [e for e in executions(stack) if e["status"] == "SUCCEEDED"]
    assert len({e["name"] for e in mine}) >= len(eligible)

    # And skipped connections carry their reason and the remedy
    listed = {c["connectionId"]: c for c in api.list_connections().json()["connections"]}
    expected_reasons = {
        "needs_user": "USER_ACTION_REQUIRED",
        "consent_expired": "CONSENT_EXPIRED",
        "budget_used": "BUDGET_EXHAUSTED",
    }
    for connection_id, kind in kinds.items():
        schedule = listed[connection_id]["schedule"]
        if kind in expected_reasons:
            assert schedule["lastSkipReason"] == expected_reasons[kind], (kind, schedule)
            assert schedule["remedy"]
        if kind in ("eligible", "expiring"):
            assert schedule["lastSkipReason"] is None
            assert schedule["unattendedUsedToday"] == 1 and schedule["unattendedLeftToday"] == 3
            assert listed[connection_id]["lastOutcome"] == "SUCCEEDED", listed[connection_id].get("lastError")
        if kind == "opted_out":
            assert schedule["enabled"] is False

    # And each expiring consent produced exactly one warning
    events = stack.published_events()
    warnings = [
        e for e in events if e["detail-type"] == "BankConnection ConsentExpiring" and e["detail"]["ownerId"] == sub
    ]
    assert sorted(e["detail"]["connectionId"] for e in warnings) == sorted(
        c for c, k in kinds.items() if k == "expiring"
    )
    api.close()


def test_a_bank_asking_for_sca_in_the_background_fails_needing_the_user(stack: Any, sandbox: Any) -> None:
    # Given a scheduled connection whose consent is gone but whose PIN is stored (so finAPI asks for SCA)
    suffix = uuid.uuid4().hex[:8]
    sub, username = f"sca-{suffix}", f"finapi-sca-{suffix}"
    sandbox.world.create_user(username, "pw")
    connection = sandbox.world.add_connection(username, consent_expires_at=None, stored_pin=True)
    register_finapi_user(stack, sub, username, "pw")
    sync(stack, sub)
    api = BankUpdateApi(stack.api_url, stack.issue_token(sub=sub))
    assert api.connection_schedule(connection, enabled=True).status_code == 200
    # When the schedule runs
    stack.fire_schedule("ScheduleUpdatesFunctionScheduler")
    wait_until_settled(stack)
    # Then nobody waits for a user: the update failed, the connection is marked and left alone, an event says so
    health = api.connection(connection).json()
    assert health["userActionRequired"] is True
    assert health["lastError"]["code"] == "USER_ACTION_REQUIRED"
    assert health["schedule"]["nextDueAt"] is None and health["schedule"]["lastSkipReason"] == "USER_ACTION_REQUIRED"
    needs_user = [e for e in stack.published_events() if e["detail-type"] == "BankConnection UserActionRequired"]
    assert [e["detail"]["connectionId"] for e in needs_user if e["detail"]["ownerId"] == sub] == [connection]
    # And a user-present success brings it back into the schedule
    demo = [{"label": "Onlinebanking-ID", "value": "demo_no_msa"}, {"label": "PIN", "value": "demo_no_msa"}]
    started = api.trigger(connection, {"interface": "XS2A", "loginCredentials": demo})
    api.wait_for(started.json()["updateId"], {"SUCCEEDED"})
    healthy = api.wait_until_unlocked(connection)  # Finalize's last step: health and schedule are written by then
    assert healthy["userActionRequired"] is False and healthy["schedule"]["nextDueAt"] is not None
    api.close()
