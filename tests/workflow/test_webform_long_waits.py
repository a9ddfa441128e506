"""Web Form 2.0, a long download: the workflow waits for finAPI's callback (a task token whose timeout is the gap), so
the callback ends the wait early; without the callback the timeout polls anyway. Gaps are handed over from 2 s here."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.conftest import BankUser, running_stack
from tests.support.workflow import history, transitions_of

LONG_GAPS = {
    "POLL_LAG_RATIO": "0.5",
    "POLL_HAND_OVER_GAP_SECONDS": "2",
    "POLL_MAX_GAP_SECONDS": "30",
    "WEBFORM_FALLBACK_RATIO": "3",  # a long wait for the callback lasts three times the update's age at most
}


@pytest.fixture(scope="module")
def stack(sandbox: Any, webform_sandbox: Any) -> Iterator[Any]:
    parameters = {"Integration": "WEB_FORM", "WebFormBaseUrl": webform_sandbox.base_url}
    with running_stack(sandbox, env=LONG_GAPS, **parameters) as local:
        yield local


@pytest.fixture
def callbacks(webform_sandbox: Any) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=webform_sandbox.base_url, timeout=10) as client:
        client.delete("/sandbox/callbacks")
        yield client
        client.delete("/sandbox/callbacks")


def callback_waits(stack: Any, update_id: str) -> list[str]:
    """How each wait for finAPI's callback ended: resumed by the callback, or timed out into a poll."""
    events = history(stack, update_id)
    starts = {e["id"] for e in events if e.get("stateEnteredEventDetails", {}).get("name") == "AwaitCallback"}
    ended, waiting = [], False
    for event in events:
        if event["id"] in starts:
            waiting = True
        elif waiting and event["type"] in ("TaskSucceeded", "TaskTimedOut", "TaskFailed"):
            ended.append(event["type"])
            waiting = False
    return ended


def test_finapis_callback_ends_a_long_wait_early(new_user: Any, stack: Any, callbacks: Any) -> None:
    # Given a background update whose download takes 6 s
    user: BankUser = new_user(download_seconds=6)
    # When the user syncs
    started = user.api.trigger(user.connections["DEMO0001"], {})
    update_id = started.json()["updateId"]
    done = user.api.wait_for(update_id, {"SUCCEEDED"}, timeout=90)
    # Then the workflow waited for the callback (ReadCallbackWait, AwaitCallback) and the `finalised` callback ended
    # that wait long before its timeout
    assert done["status"] == "SUCCEEDED"
    transitions = transitions_of(stack, update_id)
    assert "AwaitCallback" in transitions and transitions[-1] == "Poll"
    assert callback_waits(stack, update_id)[-1] == "TaskSucceeded"
    assert any(c["kind"] == "finalised" and not c["dropped"] for c in callbacks.get("/sandbox/callbacks").json())


def test_without_the_callback_the_long_wait_times_out_into_a_poll(new_user: Any, stack: Any, callbacks: Any) -> None:
    # Given finAPI loses every callback
    assert callbacks.post("/sandbox/callbacks/policy", json={"drop": True}).status_code == 201
    user: BankUser = new_user(download_seconds=6)
    # When the user syncs
    started = user.api.trigger(user.connections["DEMO0001"], {})
    update_id = started.json()["updateId"]
    done = user.api.wait_for(update_id, {"SUCCEEDED"}, timeout=120)
    # Then every wait for the callback ran out into a poll, and the polls finished the update
    assert done["status"] == "SUCCEEDED"
    assert set(callback_waits(stack, update_id)) == {"TaskTimedOut"}
