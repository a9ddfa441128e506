"""Callbacks arrive as real HTTP POSTs, late, twice or not at all on request; polls faster than 1/s are recorded."""

from __future__ import annotations

from collections.abc import Callable

from finapi_sandbox import SandboxServer
from finapi_sandbox.webform import CallbackPolicy, WebFormServer
from tests.support.webform import FinapiUser, Receiver, assert_callback_body, wait_for_status


def _create_with_callbacks(user: FinapiUser, receiver: Receiver) -> str:
    callbacks = {
        "finalised": receiver.url(f"finalised-{user.username}"),
        "webFormRequired": receiver.url(f"required-{user.username}"),
    }
    answer = user.api.create({"bankConnectionId": user.connections["main"], "callbacks": callbacks})
    assert answer.status_code == 201
    return str(answer.json()["id"])


def test_a_doubled_callback_arrives_twice_with_the_same_body(
    webform: WebFormServer, make_user: Callable[..., FinapiUser], receiver: Receiver
) -> None:
    # Given finalised callbacks are sent twice
    webform.callbacks.add_policy(CallbackPolicy(kind="finalised", copies=2))
    user = make_user(main={})

    # When a task completes
    task_id = _create_with_callbacks(user, receiver)

    # Then the app receives the same TaskCallback twice
    path = f"/finalised-{user.username}"
    posts = receiver.wait_for(lambda r: len([x for x in r if x.path == path]) == 2)
    bodies = [p.body for p in posts if p.path == path]
    assert bodies == [{"taskId": task_id, "status": "COMPLETED", "webForm": None}] * 2
    assert_callback_body(bodies[0])
    records = webform.callbacks.wait_for(lambda r: len(r) == 2, timeout=15)
    assert [(r.kind, r.status, r.dropped) for r in records] == [("finalised", 200, False)] * 2


def test_a_lost_callback_is_recorded_but_never_sent(
    webform: WebFormServer, make_user: Callable[..., FinapiUser], receiver: Receiver
) -> None:
    # Given the next webFormRequired callback is lost
    webform.callbacks.add_policy(CallbackPolicy(kind="webFormRequired", drop=True, times=1))
    user = make_user(main={"consent_expires_at": None})

    # When the task needs the web form
    task_id = _create_with_callbacks(user, receiver)
    wait_for_status(webform, user.api, task_id, "WEB_FORM_REQUIRED")

    # Then the simulator says it dropped it, and the app got nothing
    records = webform.callbacks.wait_for(lambda r: len(r) == 1, timeout=15)
    assert [(r.kind, r.dropped, r.status) for r in records] == [("webFormRequired", True, None)]
    assert receiver.posts(f"/required-{user.username}") == []


def test_a_late_callback_arrives_after_the_task_is_final(
    webform: WebFormServer, make_user: Callable[..., FinapiUser], receiver: Receiver
) -> None:
    # Given finalised callbacks are held back for a second
    webform.callbacks.add_policy(CallbackPolicy(kind="finalised", delay_seconds=1.0))
    user = make_user(main={})

    # When the task completes
    task_id = _create_with_callbacks(user, receiver)
    task = wait_for_status(webform, user.api, task_id, "COMPLETED")

    # Then the callback went out a second after the task was final (an app polling meanwhile sees it first)
    records = webform.callbacks.wait_for(lambda r: len(r) == 1, timeout=15)
    finished_at = webform.engine.tasks[task["id"]].finished_at
    assert records[0].status == 200 and finished_at is not None
    assert (records[0].at - finished_at).total_seconds() >= 1.0
    assert receiver.posts(f"/finalised-{user.username}")


def test_polls_closer_than_a_second_are_recorded(
    access: SandboxServer, make_webform: Callable[..., WebFormServer], make_user: Callable[..., FinapiUser]
) -> None:
    # Given a task, and a rule of one read per hour (so any two reads in a test are too close)
    webform = make_webform(min_poll_interval_seconds=3600)
    user = make_user(webform, main={})
    task_id = user.api.create({"bankConnectionId": user.connections["main"]}).json()["id"]

    # When the app reads it twice
    user.api.task(task_id)
    user.api.task(task_id)

    # Then one violation is recorded (the answers are still given: the spec has no 429)
    assert [v.path for v in webform.engine.poll_violations] == [f"/api/tasks/{task_id}"]


def test_polls_a_second_apart_are_fine(
    access: SandboxServer, webform: WebFormServer, make_user: Callable[..., FinapiUser]
) -> None:
    # Given a task read once
    user = make_user(main={})
    task_id = user.api.create({"bankConnectionId": user.connections["main"]}).json()["id"]
    user.api.task(task_id)

    # When the next read comes more than a second later (the sandbox clock moves on)
    access.world.set_clock_offset(access.world.clock_offset + 1.5)
    user.api.task(task_id)

    # Then nothing is recorded
    assert webform.engine.poll_violations == []
