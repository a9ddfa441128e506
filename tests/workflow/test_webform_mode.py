"""Web Form 2.0 mode end to end: the deployment updates through finAPI's background update tasks, the user answers the
bank in finAPI's web form, finAPI's callbacks reach our HTTP API and end the workflow's wait for the user (which polls
now and then in case one is lost). HTTP API → handlers → real ASL on moto → Web Form and Access sandboxes over
loopback."""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.conftest import BankUser, running_stack
from tests.support.webform import PageDriver
from tests.support.workflow import history, transitions_of

NO_CONSENT: dict[str, Any] = {"consent_expires_at": None}


# A wait for the user polls every 6 s when finAPI's callback does not end it first.
USER_FALLBACK_SECONDS = 6


@pytest.fixture(scope="module")
def stack(sandbox: Any, webform_sandbox: Any) -> Iterator[Any]:
    parameters = {"Integration": "WEB_FORM", "WebFormBaseUrl": webform_sandbox.base_url}
    env = {"WEBFORM_USER_FALLBACK_SECONDS": str(USER_FALLBACK_SECONDS)}
    with running_stack(sandbox, env=env, **parameters) as local:
        yield local


def user_waits(stack: Any, update_id: str) -> list[str]:
    """How each wait for the user ended: resumed (TaskSucceeded) or ran into its fallback poll (TaskTimedOut)."""
    events = history(stack, update_id)
    waits = {e["id"] for e in events if e.get("stateEnteredEventDetails", {}).get("name") == "AwaitUser"}
    ended: list[str] = []
    current = None
    for event in events:
        if event["id"] in waits:
            current = event["id"]
        elif current is not None and event["type"] in ("TaskSucceeded", "TaskTimedOut", "TaskFailed"):
            ended.append(event["type"])
            current = None
    return ended


@pytest.fixture
def callbacks(webform_sandbox: Any) -> Iterator[httpx.Client]:
    """The Web Form sandbox's control endpoints (callback policies and the record of every callback)."""
    with httpx.Client(base_url=webform_sandbox.base_url, timeout=10) as client:
        client.delete("/sandbox/callbacks")
        yield client
        client.delete("/sandbox/callbacks")


def sent_callbacks(client: httpx.Client) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = client.get("/sandbox/callbacks").json()
    return found


def complete_web_form(url: str) -> None:
    """The user, in finAPI's web form: credentials, a TAN procedure, the TAN (the test bank's is 123456)."""
    form_id = url.split("/wf/", 1)[1].split("?", 1)[0]
    page = PageDriver(url)
    page.post(f"/wf/{form_id}/credentials", userId="demo", pin="demo")
    page.post(f"/wf/{form_id}/procedure", procedureId="901")
    page.post(f"/wf/{form_id}/challenge", challengeResponse="123456")


def test_an_update_that_needs_no_user_runs_in_the_background(new_user: Any, stack: Any, callbacks: Any) -> None:
    # Given a connection whose consent is valid (finAPI can update it without the user)
    user: BankUser = new_user()
    # When the user syncs
    started = user.api.trigger(user.connections["DEMO0001"], {})
    # Then finAPI's task runs it, its `finalised` callback reaches us, and the update succeeds with the accounts
    assert started.status_code == 202, started.text
    done = user.api.wait_for(started.json()["updateId"], {"SUCCEEDED"})
    assert len(done["result"]["accounts"]) == 2
    assert any(c["kind"] == "finalised" and not c["dropped"] for c in sent_callbacks(callbacks))
    # And the workflow took one transition, as in Access mode: its poll loop noticed the end (the callback came while
    # the loop's own gaps were short, so it had nothing to bring forward)
    assert transitions_of(stack, started.json()["updateId"]) == ["Poll"]


def test_an_update_that_needs_the_user_shows_the_web_form_and_completes_after_it(
    new_user: Any, stack: Any, callbacks: Any
) -> None:
    # Given a connection without consent and without a stored PIN
    user: BankUser = new_user(**NO_CONSENT)
    started = user.api.trigger(user.connections["DEMO0001"], {"redirectUrl": "https://app.example.com/synced"})
    assert started.status_code == 202, started.text
    # When finAPI's task finds it needs the user, the update asks for the web form (its link, when it expires)
    waiting = user.api.wait_for(started.json()["updateId"], {"AUTHENTICATION_REQUIRED"})
    authentication = waiting["authentication"]
    assert authentication["status"] == "WEB_FORM_REQUIRED" and authentication["answerField"] is None
    assert authentication["expiresAt"] is not None
    # (the app's return address rides on the web form's URL: finAPI forbids it in the task of a mandator without
    # a licence)
    assert "redirectUrl=https%3A%2F%2Fapp.example.com%2Fsynced" in authentication["webFormUrl"]
    events = [e for e in stack.published_events() if e["detail"].get("updateId") == waiting["updateId"]]
    asked = [e for e in events if e["detail-type"] == "BankConnectionUpdate AuthenticationRequired"]
    assert asked and asked[0]["detail"]["actionUrl"].startswith(authentication["webFormUrl"].split("?")[0])
    # And answering through our API is refused: the user answers the bank in finAPI's form
    refused = user.api.answer(waiting["updateId"], {"challengeResponse": "123456"})
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "CHALLENGE_MISMATCH"
    # When the user completes the web form
    complete_web_form(authentication["webFormUrl"])
    # Then the update succeeds with the connection's accounts, read from Access
    done = user.api.wait_for(waiting["updateId"], {"SUCCEEDED"})
    assert len(done["result"]["accounts"]) == 2 and done["authentication"] is None
    assert {c["kind"] for c in sent_callbacks(callbacks)} >= {"webFormRequired", "finalised"}
    # And the workflow waited for the user (with a fallback poll whenever the user took longer than it), until
    # finAPI's `finalised` callback ended the wait
    transitions = transitions_of(stack, waiting["updateId"])
    assert transitions[:2] == ["Poll", "AwaitUser"] and transitions[-1] == "Poll"
    assert user_waits(stack, waiting["updateId"])[-1] == "TaskSucceeded"


def test_a_lost_callback_is_made_up_for_by_the_fallback_poll(
    new_user: Any, stack: Any, callbacks: httpx.Client
) -> None:
    # Given finAPI loses every callback from now on
    assert callbacks.post("/sandbox/callbacks/policy", json={"drop": True}).status_code == 201
    user: BankUser = new_user()
    # When the user syncs
    started = user.api.trigger(user.connections["DEMO0001"], {})
    # Then the update still ends, found by the poll loop (no callback ever arrived)
    done = user.api.wait_for(started.json()["updateId"], {"SUCCEEDED"}, timeout=60)
    assert done["status"] == "SUCCEEDED"
    assert sent_callbacks(callbacks) and all(c["dropped"] for c in sent_callbacks(callbacks))


def test_a_lost_callback_after_the_web_form_is_made_up_for_by_the_fallback_poll(
    new_user: Any, stack: Any, callbacks: httpx.Client
) -> None:
    # Given an update waiting for the user in finAPI's web form, and finAPI losing every callback from now on
    user: BankUser = new_user(**NO_CONSENT)
    started = user.api.trigger(user.connections["DEMO0001"], {})
    waiting = user.api.wait_for(started.json()["updateId"], {"AUTHENTICATION_REQUIRED"})
    assert callbacks.post("/sandbox/callbacks/policy", json={"drop": True}).status_code == 201
    # When the user completes the form
    complete_web_form(waiting["authentication"]["webFormUrl"])
    # Then the wait for the user runs into its fallback poll, which finds the task done, and the update succeeds
    done = user.api.wait_for(waiting["updateId"], {"SUCCEEDED"}, timeout=3 * USER_FALLBACK_SECONDS + 30)
    assert done["status"] == "SUCCEEDED"
    assert user_waits(stack, waiting["updateId"])[-1] == "TaskTimedOut"
    assert any(c["kind"] == "finalised" and c["dropped"] for c in sent_callbacks(callbacks))


def test_a_forged_callback_changes_nothing(new_user: Any, stack: Any, sandbox: Any) -> None:
    # Given an update waiting in its web form
    user: BankUser = new_user(**NO_CONSENT)
    started = user.api.trigger(user.connections["DEMO0001"], {})
    waiting = user.api.wait_for(started.json()["updateId"], {"AUTHENTICATION_REQUIRED"})
    calls_before = len(sandbox.world.calls)
    # When someone posts "finalised, COMPLETED" to a callback URL they made up
    forged = httpx.post(
        f"{stack.api_url}/v1/webform-callbacks/{secrets.token_urlsafe(32)}/finalised",
        json={"taskId": "anything", "status": "COMPLETED"},
    )
    # Then it is a 404, and nothing was polled or changed
    assert forged.status_code == 404 and forged.json()["error"]["code"] == "NOT_FOUND"
    time.sleep(0.5)  # room for any wrongly started poll to reach finAPI (none may)
    assert len(sandbox.world.calls) == calls_before
    assert user.api.update(waiting["updateId"]).json()["status"] == "AUTHENTICATION_REQUIRED"


def test_a_scheduled_update_that_needs_the_user_fails_with_the_link(stack: Any, sandbox: Any) -> None:
    # Given a scheduled connection whose bank needs the user
    import uuid

    from tests.conftest import register_finapi_user
    from tests.support.api_client import BankUpdateApi

    suffix = uuid.uuid4().hex[:8]
    sub, username = f"wf-sched-{suffix}", f"finapi-wf-sched-{suffix}"
    sandbox.world.create_user(username, "pw")
    connection = sandbox.world.add_connection(username, **NO_CONSENT)
    register_finapi_user(stack, sub, username, "pw")
    url = f"{stack.api_url}/v1/admin/users/{sub}/connections/sync"
    assert httpx.post(url, headers=stack.admin_headers("POST", url, b"")).status_code == 200
    api = BankUpdateApi(stack.api_url, stack.issue_token(sub=sub))
    assert api.connection_schedule(connection, enabled=True).status_code == 200
    # When the schedule runs
    stack.fire_schedule("ScheduleUpdatesFunctionScheduler")
    deadline = time.monotonic() + 60
    while (health := api.connection(connection).json())["lastOutcome"] is None or health["activeUpdateId"]:
        assert time.monotonic() < deadline, health
        time.sleep(0.2)
    # Then nobody waits: the update failed needing the user, with the web form as the place to act
    assert health["lastError"]["code"] == "USER_ACTION_REQUIRED"
    assert health["lastError"]["actionUrl"] and "/wf/" in health["lastError"]["actionUrl"]
    needs_user = [
        e["detail"]
        for e in stack.published_events()
        if e["detail-type"] == "BankConnection UserActionRequired" and e["detail"]["ownerId"] == sub
    ]
    assert [d["connectionId"] for d in needs_user] == [connection] and needs_user[0]["actionUrl"]
    api.close()
