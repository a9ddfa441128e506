"""The simulator's web form walked in headless Chromium, path by path; afterwards the task, the web form, the
callbacks and the Access world say what happened."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from playwright.sync_api import expect

from finapi_sandbox import SandboxServer
from finapi_sandbox.webform import WebFormServer
from tests.support.browser import BrowserPage, press_on, tab_to, type_into
from tests.support.webform import FinapiUser, Receiver, assert_callback_body, wait_for_status

NO_CONSENT: dict[str, Any] = {"consent_expires_at": None}


def _web_form_task(
    webform: WebFormServer, user: FinapiUser, receiver: Receiver, connection: str = "main"
) -> dict[str, Any]:
    callbacks = {"finalised": receiver.url(f"f-{user.username}"), "webFormRequired": receiver.url(f"w-{user.username}")}
    created = user.api.create({"bankConnectionId": user.connections[connection], "callbacks": callbacks})
    assert created.status_code == 201
    return wait_for_status(webform, user.api, created.json()["id"], "WEB_FORM_REQUIRED")


def _callbacks(user: FinapiUser, receiver: Receiver, count: int) -> list[dict[str, Any]]:
    paths = (f"/w-{user.username}", f"/f-{user.username}")
    posts = receiver.wait_for(lambda r: len([x for x in r if x.path in paths]) >= count)
    bodies = [p.body for p in posts if p.path in paths]
    for body in bodies:
        assert_callback_body(body)
    return bodies


def test_credentials_procedure_and_tan_by_keyboard_only(
    access: SandboxServer,
    webform: WebFormServer,
    make_user: Callable[..., FinapiUser],
    receiver: Receiver,
    web: BrowserPage,
) -> None:
    # Given a connection without consent and without a stored PIN, and a task that needs the web form
    user = make_user(main=NO_CONSENT)
    connection_id = user.connections["main"]
    task = _web_form_task(webform, user, receiver)
    back = receiver.url(f"back-{user.username}?from=webform")
    page = web.page

    # When the user opens it (with the app's return address) and does everything with the keyboard
    page.goto(task["payload"]["webForm"]["url"] + "?" + urlencode({"redirectUrl": back}))
    expect(page.locator("h1")).to_have_text("Log in to your bank")
    web.step("credentials")
    type_into(page, "#user-id", "demo")
    type_into(page, "#pin", "demo")
    press_on(page, "#store-secrets", "Space")
    press_on(page, "#submit")
    expect(page.locator("h1")).to_have_text("Choose a TAN procedure")
    web.step("procedure")
    tab_to(page, "#procedure-901")
    press_on(page, "#submit")
    expect(page.locator("h1")).to_have_text("Enter your TAN")
    web.step("tan")
    type_into(page, "#tan", "123456")
    page.keyboard.press("Enter")

    # Then the web form updates the accounts and sends the user back to the app
    expect(page.locator("#app")).to_have_text("Back in the app")
    web.step("back-in-the-app")
    done = wait_for_status(webform, user.api, task["id"], "COMPLETED")
    assert done["payload"]["webForm"]["status"] == "COMPLETED"
    assert [r.query for r in receiver.received if r.path == f"/back-{user.username}"] == ["from=webform"]
    bodies = _callbacks(user, receiver, 2)
    assert [b["status"] for b in bodies] == ["WEB_FORM_REQUIRED", "COMPLETED"]
    # ... and Access shows what an Access update with SCA does: PIN kept, consent renewed, accounts updated
    connection = access.world.connection(connection_id)
    assert connection["pinStored"] and connection["consentExpiresAt"] and not connection["userActionRequired"]
    assert all(a["status"] == "UPDATED" for a in connection["accounts"])


def test_a_wrong_tan_is_refused_with_the_banks_message(
    webform: WebFormServer, make_user: Callable[..., FinapiUser], receiver: Receiver, web: BrowserPage
) -> None:
    # Given the user reached the TAN page
    user = make_user(main=NO_CONSENT)
    task = _web_form_task(webform, user, receiver)
    page = web.page
    page.goto(task["payload"]["webForm"]["url"])
    page.fill("#user-id", "demo")
    page.fill("#pin", "demo")
    page.click("#submit")
    page.click("#procedure-902")
    page.click("#submit")

    # When a wrong TAN is sent
    page.fill("#tan", "000000")
    page.click("#submit")

    # Then the page asks again, with the bank's message, and the right TAN then works
    expect(page.locator("[role=alert]")).to_contain_text("TAN ist ungültig")
    web.step("wrong-tan")
    page.fill("#tan", "123456")
    page.click("#submit")
    expect(page.locator("#result")).to_contain_text("up to date")
    web.step("done")
    assert wait_for_status(webform, user.api, task["id"], "COMPLETED")["payload"]["webForm"]["status"] == "COMPLETED"


def test_three_wrong_tans_end_the_flow(
    webform: WebFormServer, make_user: Callable[..., FinapiUser], receiver: Receiver, web: BrowserPage
) -> None:
    user = make_user(main=NO_CONSENT)
    task = _web_form_task(webform, user, receiver)
    page = web.page
    page.goto(task["payload"]["webForm"]["url"])
    page.fill("#user-id", "demo")
    page.fill("#pin", "demo")
    page.click("#submit")
    page.click("#submit")
    for _ in range(3):
        page.fill("#tan", "000000")
        page.click("#submit")
    expect(page.locator("h1")).to_have_text("Update failed")
    web.step("failed")
    ended = wait_for_status(webform, user.api, task["id"], "COMPLETED_WITH_ERROR")
    assert ended["payload"]["errorCode"] == "BANK_SERVER_REJECTION"
    assert ended["payload"]["webForm"]["status"] == "COMPLETED_WITH_ERROR"


def test_decoupled_approval_is_awaited_by_the_page(
    access: SandboxServer,
    webform: WebFormServer,
    make_user: Callable[..., FinapiUser],
    receiver: Receiver,
    web: BrowserPage,
) -> None:
    # Given a stored PIN but no consent, and finAPI waiting for the user: the bank asks for SCA
    user = make_user(main={"consent_expires_at": None, "stored_pin": True, "user_action_required": True})
    task = _web_form_task(webform, user, receiver)
    page = web.page

    # When the user picks the decoupled procedure
    page.goto(task["payload"]["webForm"]["url"])
    expect(page.locator("h1")).to_have_text("Choose a TAN procedure")
    web.step("procedure")
    page.click("#procedure-905")
    page.click("#submit")
    expect(page.locator("h1")).to_have_text("Confirm in your banking app")
    web.step("decoupled")

    # Then the page checks by itself until the bank reports the approval, and the update completes
    expect(page.locator("#result")).to_contain_text("up to date")
    web.step("done")
    assert wait_for_status(webform, user.api, task["id"], "COMPLETED")["payload"]["webForm"]["status"] == "COMPLETED"
    assert not access.world.connection(user.connections["main"])["userActionRequired"]


def test_redirect_to_the_bank_and_back(
    access: SandboxServer,
    webform: WebFormServer,
    make_user: Callable[..., FinapiUser],
    receiver: Receiver,
    web: BrowserPage,
) -> None:
    # Given a connection at the redirect bank without consent
    user = make_user(main={"bank_blz": "DEMO0002", "consent_expires_at": None})
    task = _web_form_task(webform, user, receiver)
    page = web.page

    # When the user follows the link to the bank and allows access there
    page.goto(task["payload"]["webForm"]["url"])
    expect(page.locator("h1")).to_have_text("Log in at your bank")
    web.step("redirect")
    page.click("#to-bank")
    expect(page.locator("h1")).to_have_text("Authorize access")
    web.step("bank-page")
    page.click("#approve")

    # Then the bank sends the user back to the web form, which completes the update
    expect(page.locator("#result")).to_contain_text("up to date")
    web.step("done")
    assert wait_for_status(webform, user.api, task["id"], "COMPLETED")["payload"]["webForm"]["status"] == "COMPLETED"
    assert access.world.connection(user.connections["main"])["consentExpiresAt"] is not None


def test_cancelling_at_the_bank_fails_the_update(
    webform: WebFormServer, make_user: Callable[..., FinapiUser], receiver: Receiver, web: BrowserPage
) -> None:
    user = make_user(main={"bank_blz": "DEMO0002", "consent_expires_at": None})
    task = _web_form_task(webform, user, receiver)
    page = web.page
    page.goto(task["payload"]["webForm"]["url"])
    page.click("#to-bank")
    page.click("#cancel")
    expect(page.locator("h1")).to_have_text("Update failed")
    web.step("failed")
    ended = wait_for_status(webform, user.api, task["id"], "COMPLETED_WITH_ERROR")
    assert ended["payload"]["errorCode"] == "BANK_SERVER_REJECTION"


def test_the_user_aborts(
    webform: WebFormServer, make_user: Callable[..., FinapiUser], receiver: Receiver, web: BrowserPage
) -> None:
    # Given the credentials page, opened with a customer support link
    user = make_user(main=NO_CONSENT)
    task = _web_form_task(webform, user, receiver)
    page = web.page
    page.goto(task["payload"]["webForm"]["url"] + "?customerSupportUrl=https%3A%2F%2Fapp.example.com%2Fhelp")
    web.step("credentials")

    # When the user cancels
    page.click("#abort")

    # Then the web form is ABORTED, the task ends, the app is told, and the support link is offered
    expect(page.locator("h1")).to_have_text("Cancelled")
    expect(page.locator("#support")).to_have_attribute("href", "https://app.example.com/help")
    web.step("cancelled")
    ended = wait_for_status(webform, user.api, task["id"], "COMPLETED_WITH_ERROR")
    assert ended["payload"]["webForm"]["status"] == "ABORTED"
    assert _callbacks(user, receiver, 2)[1]["webForm"]["status"] == "ABORTED"


def test_the_link_opens_once(
    webform: WebFormServer, make_user: Callable[..., FinapiUser], receiver: Receiver, web: BrowserPage
) -> None:
    # Given a web form opened in one browser
    user = make_user(main=NO_CONSENT)
    task = _web_form_task(webform, user, receiver)
    url = task["payload"]["webForm"]["url"]
    web.page.goto(url)
    expect(web.page.locator("h1")).to_have_text("Log in to your bank")

    # When the same link is opened in another browser
    browser = web.page.context.browser
    assert browser is not None
    other = browser.new_context()
    try:
        second = other.new_page()
        answer = second.goto(url)

        # Then it is refused ("a one-time token"), while the first browser still works
        assert answer is not None and answer.status == 410
        expect(second.locator("h1")).to_have_text("Web form already opened")
    finally:
        other.close()
    web.page.reload()
    expect(web.page.locator("h1")).to_have_text("Log in to your bank")


def test_an_expired_web_form_says_so(
    access: SandboxServer,
    webform: WebFormServer,
    make_user: Callable[..., FinapiUser],
    receiver: Receiver,
    web: BrowserPage,
) -> None:
    user = make_user(main=NO_CONSENT)
    task = _web_form_task(webform, user, receiver)
    access.world.set_clock_offset(20 * 60 + 1)
    web.page.goto(task["payload"]["webForm"]["url"])
    expect(web.page.locator("h1")).to_have_text("Expired")
    web.step("expired")
    assert wait_for_status(webform, user.api, task["id"], "COMPLETED_WITH_ERROR")["payload"]["webForm"]["status"] == (
        "EXPIRED"
    )
