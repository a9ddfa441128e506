"""Background update tasks: finished without the user, handed to a web form, or ended with each errorCode."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest

from finapi_sandbox import SandboxServer
from finapi_sandbox.webform import WebFormServer
from tests.support.webform import FinapiUser, Receiver, assert_callback_body, wait_for_status

FRESH_CONSENT: dict[str, Any] = {}  # add_connection's default: a 90-day consent, nothing needs the user
NO_CONSENT: dict[str, Any] = {"consent_expires_at": None}


def test_a_connection_with_a_valid_consent_completes_without_the_user(
    access: SandboxServer, webform: WebFormServer, make_user: Callable[..., FinapiUser], receiver: Receiver
) -> None:
    # Given a connection finAPI can update on its own
    user = make_user(main=FRESH_CONSENT)
    connection_id = user.connections["main"]
    before = access.world.connection(connection_id)
    callback = receiver.url(f"finalised-{user.username}")

    # When the app creates a background update task
    created = user.api.create({"bankConnectionId": connection_id, "callbacks": {"finalised": callback}})

    # Then it is created, then completes, and Access shows the update as an Access update would
    assert created.status_code == 201 and created.json()["status"] == "NOT_YET_STARTED"
    task = wait_for_status(webform, user.api, created.json()["id"], "COMPLETED")
    assert task["payload"] == {"bankConnectionId": connection_id, "webForm": None, "errorCode": None}
    after = access.world.connection(connection_id)
    assert after["updateStatus"] == "READY"
    assert all(a["status"] == "UPDATED" and a["transactions"] > 0 for a in after["accounts"])
    assert before["accounts"] != after["accounts"]
    posts = receiver.wait_for(lambda r: any(x.path == f"/finalised-{user.username}" for x in r))
    finalised = [p.body for p in posts if p.path == f"/finalised-{user.username}"]
    assert finalised == [{"taskId": task["id"], "status": "COMPLETED", "webForm": None}]
    assert_callback_body(finalised[0])


def test_a_connection_without_consent_needs_the_web_form(
    webform: WebFormServer, make_user: Callable[..., FinapiUser], receiver: Receiver
) -> None:
    # Given a connection whose consent is gone
    user = make_user(main=NO_CONSENT)
    callback = receiver.url(f"required-{user.username}")

    # When a task is created for it
    created = user.api.create(
        {"bankConnectionId": user.connections["main"], "callbacks": {"webFormRequired": callback}}
    )

    # Then the task asks for the web form, and the app is called back with its URL
    task = wait_for_status(webform, user.api, created.json()["id"], "WEB_FORM_REQUIRED")
    web_form = task["payload"]["webForm"]
    assert web_form["status"] == "NOT_YET_OPENED" and web_form["url"] == f"{webform.base_url}/wf/{web_form['id']}"
    posts = receiver.wait_for(lambda r: any(x.path == f"/required-{user.username}" for x in r))
    body = next(p.body for p in posts if p.path == f"/required-{user.username}")
    assert body == {"taskId": task["id"], "status": "WEB_FORM_REQUIRED", "webForm": web_form}
    read = user.api.web_form(web_form["id"]).json()
    assert read["type"] == "BANK_CONNECTION_UPDATE" and read["payload"] == {"bankConnectionId": None, "errorCode": None}


def test_new_accounts_of_the_asked_types_arrive_in_access(
    access: SandboxServer, webform: WebFormServer, make_user: Callable[..., FinapiUser]
) -> None:
    # Given a connection with two of the bank's three accounts imported (the third is a savings account)
    user = make_user(main={"imported_account_count": 2})
    connection_id = user.connections["main"]

    # When the task imports new savings accounts
    created = user.api.create(
        {"bankConnectionId": connection_id, "importNewAccounts": True, "accountTypes": ["SAVINGS"]}
    )

    # Then the savings account exists in Access afterwards
    wait_for_status(webform, user.api, created.json()["id"], "COMPLETED")
    assert len(access.world.connection(connection_id)["accountIds"]) == 3


def test_user_metadata_makes_the_update_user_present_for_the_bank(
    access: SandboxServer, webform: WebFormServer, make_user: Callable[..., FinapiUser]
) -> None:
    # Given a connection
    user = make_user(main=FRESH_CONSENT)
    connection_id = user.connections["main"]
    metadata = {"ipAddress": "203.0.113.7", "deviceOs": "iOS 18", "userAgent": "App/1.0"}

    # When the task carries the user's metadata
    created = user.api.create({"bankConnectionId": connection_id, "userMetadata": metadata})
    wait_for_status(webform, user.api, created.json()["id"], "COMPLETED")

    # Then Access saw a user-present update, which does not count against the 4-per-day budget
    updates = [c for c in access.world.calls if c.path.endswith("/update") and c.connection_id == connection_id]
    assert [c.psu_present for c in updates] == [True]
    assert access.world.connection(connection_id)["unattendedToday"] == 0


def test_the_bank_budget_for_unattended_access_hands_the_update_to_the_web_form(
    access: SandboxServer, webform: WebFormServer, make_user: Callable[..., FinapiUser]
) -> None:
    # Given a connection whose unattended accesses for today are used up
    user = make_user(main=FRESH_CONSENT)
    connection_id = user.connections["main"]
    for _ in range(access.config.unattended_daily_limit):
        task_id = user.api.create({"bankConnectionId": connection_id}).json()["id"]
        wait_for_status(webform, user.api, task_id, "COMPLETED")

    # When one more background update is tried
    created = user.api.create({"bankConnectionId": connection_id})

    # Then the bank refuses it without the user, and the user is asked in (a present user lifts the limit)
    wait_for_status(webform, user.api, created.json()["id"], "WEB_FORM_REQUIRED")


def test_a_second_task_while_one_runs_is_locked(webform: WebFormServer, make_user: Callable[..., FinapiUser]) -> None:
    # Given a task waiting for its web form
    user = make_user(main=NO_CONSENT)
    first = user.api.create({"bankConnectionId": user.connections["main"]}).json()
    wait_for_status(webform, user.api, first["id"], "WEB_FORM_REQUIRED")

    # When another task is created for the same connection
    second = user.api.create({"bankConnectionId": user.connections["main"]})

    # Then finAPI's 423 LOCKED
    assert second.status_code == 423 and second.json()["code"] == "LOCKED"


def test_an_access_update_in_progress_locks_the_connection(
    access: SandboxServer, webform: WebFormServer, make_user: Callable[..., FinapiUser]
) -> None:
    # Given an update through Access whose (slow) download runs
    user = make_user(main={"download_seconds": 3600})
    started = httpx.post(
        f"{access.base_url}/api/v1/bankConnections/update",
        json={"bankConnectionId": user.connections["main"], "interface": "XS2A"},
        headers={"Authorization": f"Bearer {user.token}"},
    )
    assert started.status_code == 200

    # When the app asks Web Form 2.0 for an update of the same connection
    created = user.api.create({"bankConnectionId": user.connections["main"]})

    # Then finAPI's 423 LOCKED
    assert created.status_code == 423 and created.json()["code"] == "LOCKED"


@pytest.mark.parametrize(
    "error_code", ["BANK_SERVER_REJECTION", "INTERNAL_ERROR", "INVALID_TOKEN", "UNEXPECTED_ACCESS_RESPONSE"]
)
def test_every_error_code_can_be_forced(
    webform: WebFormServer, make_user: Callable[..., FinapiUser], error_code: Any
) -> None:
    # Given the next task of a connection is set to fail with this code
    user = make_user(main=FRESH_CONSENT)
    webform.engine.force_error(user.connections["main"], error_code)

    # When the task runs
    created = user.api.create({"bankConnectionId": user.connections["main"]})

    # Then it ends with that errorCode
    task = wait_for_status(webform, user.api, created.json()["id"], "COMPLETED_WITH_ERROR")
    assert task["payload"]["errorCode"] == error_code


def test_a_token_that_expires_before_the_task_runs_gives_invalid_token(
    access: SandboxServer, make_webform: Callable[..., WebFormServer], make_user: Callable[..., FinapiUser]
) -> None:
    # Given a task that starts only later, created with a token that then becomes invalid
    webform = make_webform(task_start_seconds=600)
    user = make_user(webform, main=FRESH_CONSENT)
    task_id = user.api.create({"bankConnectionId": user.connections["main"]}).json()["id"]
    access.world.expire_tokens()

    # When the task starts
    access.world.set_clock_offset(601)

    # Then Access refuses the token and the task ends INVALID_TOKEN
    task = webform.engine.tasks[task_id]
    assert webform.wait_until(lambda: task.final)
    assert (task.status, task.error_code) == ("COMPLETED_WITH_ERROR", "INVALID_TOKEN")


def test_an_access_failure_gives_unexpected_access_response(
    access: SandboxServer, webform: WebFormServer, make_user: Callable[..., FinapiUser]
) -> None:
    # Given Access fails its next update call
    user = make_user(main=FRESH_CONSENT)
    access.world.add_fault(path="/bankConnections/update", status=500, times=1, connection_id=user.connections["main"])

    # When a task runs
    created = user.api.create({"bankConnectionId": user.connections["main"]})

    # Then the task reports Access's unexpected answer
    task = wait_for_status(webform, user.api, created.json()["id"], "COMPLETED_WITH_ERROR")
    assert task["payload"]["errorCode"] == "UNEXPECTED_ACCESS_RESPONSE"


def test_an_unopened_web_form_expires_after_twenty_minutes(
    access: SandboxServer, webform: WebFormServer, make_user: Callable[..., FinapiUser], receiver: Receiver
) -> None:
    # Given a web form nobody opens
    user = make_user(main=NO_CONSENT)
    callback = receiver.url(f"expired-{user.username}")
    created = user.api.create({"bankConnectionId": user.connections["main"], "callbacks": {"finalised": callback}})
    task = wait_for_status(webform, user.api, created.json()["id"], "WEB_FORM_REQUIRED")

    # When its 20 minutes are over
    access.world.set_clock_offset(20 * 60 + 1)

    # Then it is EXPIRED, the task ends, and the app is told
    ended = wait_for_status(webform, user.api, task["id"], "COMPLETED_WITH_ERROR")
    assert ended["payload"]["webForm"]["status"] == "EXPIRED" and ended["payload"]["errorCode"] is None
    assert user.api.web_form(task["payload"]["webForm"]["id"]).json()["status"] == "EXPIRED"
    posts = receiver.wait_for(lambda r: any(x.path == f"/expired-{user.username}" for x in r))
    assert [p.body["status"] for p in posts if p.path == f"/expired-{user.username}"] == ["COMPLETED_WITH_ERROR"]
