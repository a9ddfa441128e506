"""Every kind of Web Form 2.0 answer and callback body the simulator gives, in every flow, validated strictly against
finAPI's official spec (spec/finapi/finapi-webform2-2.430.0-openapi.yaml). The pages are driven over plain HTTP here;
tests/browser drives them in Chromium."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from finapi_sandbox import SandboxServer
from finapi_sandbox.webform import WebFormServer
from tests.support.webform import (
    FinapiUser,
    PageDriver,
    Receiver,
    WebFormApi,
    assert_callback_body,
    wait_for_status,
)
from tests.support.webform_spec import assert_conforms, response_schema


def _web_form_of(webform: WebFormServer, user: FinapiUser, task_id: str) -> dict[str, Any]:
    task = wait_for_status(webform, user.api, task_id, "WEB_FORM_REQUIRED")
    web_form: dict[str, Any] = task["payload"]["webForm"]
    return web_form


def test_the_spec_documents_every_answer_the_simulator_is_built_to_give() -> None:
    # The table the server follows, checked against the spec itself.
    create, read_task, read_web_form = "/api/tasks/backgroundUpdate", "/api/tasks/x", "/api/webForms/x"
    for status, schema in [(201, "Task"), (400, "ValidationError"), (401, "Error"), (403, "Error"), (404, "Error")]:
        assert response_schema("POST", create, status) == schema
    for status in (422, 423, 500):
        assert response_schema("POST", create, status) == "Error"
    assert response_schema("GET", read_task, 200) == "Task"
    assert response_schema("GET", read_web_form, 200) == "WebForm"


def test_task_and_web_form_in_every_status(
    access: SandboxServer,
    make_webform: Callable[..., WebFormServer],
    make_user: Callable[..., FinapiUser],
    receiver: Receiver,
) -> None:
    webform = make_webform(task_start_seconds=600)
    user = make_user(
        webform,
        waiting={"consent_expires_at": None},
        done={"consent_expires_at": None},
        refused={"consent_expires_at": None},
        aborted={"consent_expires_at": None},
        expired={"consent_expires_at": None},
    )
    callbacks = {"finalised": receiver.url(f"f-{user.username}"), "webFormRequired": receiver.url(f"w-{user.username}")}
    tasks = {
        name: user.api.create({"bankConnectionId": connection_id, "callbacks": callbacks}).json()
        for name, connection_id in user.connections.items()
    }
    # NOT_YET_STARTED (the start is an hour away), then the clock moves and every task asks for its web form
    assert {t["status"] for t in tasks.values()} == {"NOT_YET_STARTED"}
    access.world.set_clock_offset(601)
    forms = {name: _web_form_of(webform, user, task["id"]) for name, task in tasks.items()}
    assert user.api.web_form(forms["waiting"]["id"]).json()["status"] == "NOT_YET_OPENED"

    # IN_PROGRESS, then COMPLETED: credentials, procedure, TAN
    done = PageDriver(forms["done"]["url"])
    assert user.api.web_form(forms["done"]["id"]).json()["status"] == "IN_PROGRESS"
    done.post(f"/wf/{forms['done']['id']}/credentials", userId="demo", pin="demo")
    done.post(f"/wf/{forms['done']['id']}/procedure", procedureId="901")
    done.post(f"/wf/{forms['done']['id']}/challenge", challengeResponse="123456")
    completed = wait_for_status(webform, user.api, tasks["done"]["id"], "COMPLETED")
    assert completed["payload"]["webForm"]["status"] == "COMPLETED"
    assert user.api.web_form(forms["done"]["id"]).json()["payload"]["bankConnectionId"] == user.connections["done"]

    # COMPLETED_WITH_ERROR: the bank refuses the credentials
    refused = PageDriver(forms["refused"]["url"])
    refused.post(f"/wf/{forms['refused']['id']}/credentials", userId="demo", pin="wrong")
    failed = wait_for_status(webform, user.api, tasks["refused"]["id"], "COMPLETED_WITH_ERROR")
    assert failed["payload"]["errorCode"] == "BANK_SERVER_REJECTION"
    assert user.api.web_form(forms["refused"]["id"]).json()["payload"]["errorCode"] == "BANK_SERVER_REJECTION"

    # ABORTED
    aborted = PageDriver(forms["aborted"]["url"])
    aborted.post(f"/wf/{forms['aborted']['id']}/abort")
    assert (
        wait_for_status(webform, user.api, tasks["aborted"]["id"], "COMPLETED_WITH_ERROR")["payload"]["webForm"][
            "status"
        ]
        == "ABORTED"
    )

    # EXPIRED (and the still unopened one with it)
    access.world.set_clock_offset(601 + 20 * 60 + 1)
    for name in ("expired", "waiting"):
        ended = wait_for_status(webform, user.api, tasks[name]["id"], "COMPLETED_WITH_ERROR")
        assert ended["payload"]["webForm"]["status"] == "EXPIRED"
        assert user.api.web_form(forms[name]["id"]).json()["status"] == "EXPIRED"

    # Every callback body the app received
    posts = receiver.wait_for(lambda r: len([x for x in r if x.path == f"/f-{user.username}"]) == 5)
    mine = [p for p in posts if p.path in (f"/f-{user.username}", f"/w-{user.username}")]
    assert len(mine) == 10
    for post in mine:
        assert_callback_body(post.body)


def test_in_progress_while_the_download_runs(webform: WebFormServer, make_user: Callable[..., FinapiUser]) -> None:
    user = make_user(main={"download_seconds": 3600})
    created = user.api.create({"bankConnectionId": user.connections["main"]}).json()
    running = wait_for_status(webform, user.api, created["id"], "IN_PROGRESS")
    assert_conforms(running, "Task")
    assert webform.engine.tasks[created["id"]].downloading


def test_error_answers_of_the_reads(webform: WebFormServer, make_user: Callable[..., FinapiUser]) -> None:
    user = make_user(main={})
    unknown = "00000000-0000-4000-8000-000000000000"
    assert user.api.task(unknown).status_code == 404
    assert user.api.web_form(unknown).status_code == 404
    assert WebFormApi(webform.base_url, "bad").web_form(unknown).status_code == 401


def test_a_licensed_mandators_bank_return_is_forwarded_to_the_web_form(
    access: SandboxServer,
    make_webform: Callable[..., WebFormServer],
    make_user: Callable[..., FinapiUser],
    receiver: Receiver,
) -> None:
    # Given a licensed mandator whose registered redirect URL forwards to the web form's /callback (finAPI's rule)
    webform = make_webform(license="AISP")
    user = make_user(webform, main={"bank_blz": "DEMO0002", "consent_expires_at": None})
    own_return = receiver.forward(f"bank-return-{user.username}", f"{webform.base_url}/callback")
    created = user.api.create({"bankConnectionId": user.connections["main"], "redirectUrl": own_return}).json()
    web_form = _web_form_of(webform, user, created["id"])

    # When the user goes to the bank, allows access, and comes back through the mandator's URL
    driver = PageDriver(web_form["url"])
    link = re.search(r'id="to-bank" href="([^"]+)"', driver.page.text)
    assert link, driver.page.text
    bank = driver.client.get(link.group(1).replace("&amp;", "&"))
    fields = dict(re.findall(r'name="(state|redirect)" value="([^"]+)"', bank.text))
    assert fields["redirect"] == own_return
    action = re.search(r'<form method="post" action="([^"]+)"', bank.text)
    assert action
    driver.client.post(f"{webform.base_url}{action.group(1)}", data=fields | {"decision": "approve"})

    # Then the update completes, and the return went through the mandator's URL
    assert wait_for_status(webform, user.api, created["id"], "COMPLETED")["payload"]["webForm"]["status"] == "COMPLETED"
    assert [r.path for r in receiver.received if r.path == f"/bank-return-{user.username}"]
