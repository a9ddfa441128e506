"""The reference front end (frontend/, served by the local stack at /) clicked through in headless Chromium: every
user-present flow of `make demo`, plus decoupled and redirect approvals, against the whole local stack and the finAPI
sandbox. Each step is a screenshot under test-artifacts/screenshots/<test>/, and every page's controls are checked
for labels."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.support.browser import BrowserPage, press_on, tab_to, type_into
from tests.support.front_end import NO_CONSENT, DemoUser, demo_user, signed_in


@pytest.fixture(scope="module")
def demo(sandbox: Any) -> Iterator[DemoUser]:
    # Decoupled checks at most every 2 s: the page must follow the API's Retry-After.
    with demo_user(sandbox, "frontend", env={"DECOUPLED_MIN_INTERVAL_SECONDS": "2"}) as user:
        yield user


def _credentials(page: Page, user_id: str, pin: str) -> None:
    expect(page.locator("label[for=credential-0]")).to_have_text("Onlinebanking-ID")
    expect(page.locator("label[for=credential-1]")).to_have_text("PIN")
    page.fill("#credential-0", user_id)
    page.fill("#credential-1", pin)


def test_credentials_procedure_and_flicker_tan_with_a_wrong_tan_first(demo: DemoUser, web: BrowserPage) -> None:
    # Given a connection without consent: the bank will ask for the login, a procedure and a TAN
    connection = demo.add_connection(**NO_CONSENT)
    page = web.page
    page.goto(demo.url)
    web.step("sign-in")
    page.click("#sign-in-button")
    expect(page.locator(f"#connection-{connection}")).to_contain_text("Not updated yet")
    web.step("connections")

    # When the user syncs, logs in and picks chipTAN optical
    page.click(f"#sync-{connection}")
    expect(page.locator("#credentials-form")).to_be_visible()
    _credentials(page, "demo", "demo")
    web.step("credentials-asked")
    page.click("#submit")
    expect(page.locator("#procedure-form legend")).to_have_text("How do you want to confirm?")
    expect(page.locator("#procedure-form input[type=radio]")).to_have_count(5)
    web.step("procedure-choice")
    page.click("#procedure-903")
    page.click("#submit")

    # Then the flicker code is shown for the TAN generator
    expect(page.locator("#flicker [role=img] span")).to_have_count(5)
    expect(page.locator("#flicker code")).to_have_text("0388A01239230520422D3132")
    web.step("flicker-tan")

    # When a wrong TAN is sent, the page says so, machine-readably from the API, quotes the bank, and names what
    # this update counts (its rounds), never a number of tries the bank has not promised
    page.fill("#tan", "000000")
    page.click("#submit")
    expect(page.locator("#rejected")).to_contain_text("did not accept")
    expect(page.locator("#rejected")).to_contain_text("up to your bank")
    expect(page.locator("#rejected")).not_to_contain_text("tries")
    expect(page.locator("#rounds-left")).to_contain_text("more authentication rounds")
    expect(page.locator("#bank-message")).to_contain_text("TAN ist ungültig")
    web.step("wrong-tan")

    # And the right TAN brings the accounts
    page.fill("#tan", "123456")
    page.click("#submit")
    expect(page.locator("#accounts tbody tr")).to_have_count(2)
    expect(page.locator("#update-status")).to_contain_text("Up to date")
    web.step("accounts")
    page.click("#back")
    expect(page.locator(f"#connection-{connection}")).to_contain_text("Up to date")
    web.step("connection-health")


def test_wrong_tans_until_the_bank_ends_the_update_promise_nothing_the_bank_did_not(
    demo: DemoUser, web: BrowserPage
) -> None:
    # Given an update at the TAN step (the bank ends a login at its third wrong TAN)
    connection = demo.add_connection(**NO_CONSENT)
    page = signed_in(web, demo, connection)
    page.click(f"#sync-{connection}")
    _credentials(page, "demo", "demo")
    page.click("#submit")
    page.click("#procedure-901")
    page.click("#submit")

    # When the user sends wrong TANs
    for attempt in (1, 2):
        page.fill("#tan", f"00000{attempt}")
        page.click("#submit")
        expect(page.locator("#submit")).to_be_enabled()  # disabled while sent: enabled again on the bank's answer
        expect(page.locator("#bank-message")).to_contain_text("TAN ist ungültig")
        # Then after each, the page leaves the count of attempts to the bank
        expect(page.locator("#rejected")).to_contain_text("up to your bank")
        expect(page.locator("#rejected")).not_to_contain_text("tries")
    web.step("second-wrong-tan")
    page.fill("#tan", "000003")
    page.click("#submit")

    # And when the bank ends the login, the update fails with the bank's own words
    expect(page.locator("#update-status")).to_contain_text("Failed")
    expect(page.locator("#failure")).to_contain_text("Die TAN war mehrfach falsch")
    expect(page.locator("#failure")).to_contain_text("BANK_REJECTED")
    web.step("bank-ended-the-login")


def test_photo_tan_flow_by_keyboard_only(demo: DemoUser, web: BrowserPage) -> None:
    # Given a connection without consent, and a user without a mouse
    connection = demo.add_connection(**NO_CONSENT)
    page = web.page
    page.goto(demo.url)

    # When everything is done with Tab, typing, arrows, Space and Enter
    press_on(page, "#sign-in-button")
    expect(page.locator(f"#sync-{connection}")).to_be_visible()
    press_on(page, f"#sync-{connection}")
    expect(page.locator("#credentials-form")).to_be_visible()
    type_into(page, "#credential-0", "demo")
    type_into(page, "#credential-1", "demo")
    web.step("credentials-typed")
    press_on(page, "#submit")
    expect(page.locator("#procedure-form")).to_be_visible()
    tab_to(page, "#procedure-901")
    for _ in range(3):
        page.keyboard.press("ArrowDown")
    expect(page.locator("#procedure-904")).to_be_checked()
    web.step("photo-tan-chosen")
    press_on(page, "#submit")

    # Then the photoTAN picture is shown, and the TAN typed into the focused field finishes the update
    picture = page.locator("#photo-tan")
    expect(picture).to_be_visible()
    assert picture.evaluate("img => img.naturalWidth") > 100
    expect(page.locator("#tan")).to_be_focused()
    web.step("photo-tan")
    page.keyboard.type("123456")
    page.keyboard.press("Enter")
    expect(page.locator("#accounts tbody tr")).to_have_count(2)
    web.step("accounts")
    press_on(page, "#back")
    expect(page.locator(f"#connection-{connection}")).to_contain_text("Up to date")


def test_import_new_accounts_marks_the_new_one(demo: DemoUser, web: BrowserPage) -> None:
    # Given a connection with a valid consent whose bank holds one account more than finAPI imported
    connection = demo.add_connection(imported_account_count=2)
    page = signed_in(web, demo, connection)

    # When the user syncs with "import new accounts"
    page.check(f"#import-{connection}")
    web.step("import-new-accounts")
    page.click(f"#sync-{connection}")

    # Then the result lists three accounts, the savings account marked new
    expect(page.locator("#accounts tbody tr")).to_have_count(3)
    new_rows = page.locator("#accounts tr.new-account")
    expect(new_rows).to_have_count(1)
    expect(new_rows).to_contain_text("Tagesgeld")
    expect(new_rows.locator(".badge")).to_have_text("New")
    expect(page.locator("#result-summary")).to_contain_text("1 new")
    web.step("new-account-marked")
    assert len(demo.sandbox.world.connection(connection)["accounts"]) == 3


def test_credentials_asked_once_and_kept_by_finapi(demo: DemoUser, web: BrowserPage) -> None:
    # Given a connection whose consent is gone and whose download takes a while
    connection = demo.add_connection(consent_expires_at=None, download_seconds=3)
    page = signed_in(web, demo, connection)

    # When the bank asks for the login and the user lets finAPI keep the PIN
    page.click(f"#sync-{connection}")
    _credentials(page, "demo_no_msa", "demo_no_msa")
    page.check("#store-secrets")
    web.step("credentials-with-store-secrets")
    page.click("#submit")

    # Then the download runs with visible progress, and finAPI (not us) keeps the PIN
    expect(page.locator("#working")).to_be_visible()
    web.step("downloading")
    expect(page.locator("#accounts")).to_be_visible()
    web.step("accounts")
    assert demo.sandbox.world.connection(connection)["pinStored"]


def test_schedule_switch(demo: DemoUser, web: BrowserPage) -> None:
    # Given a connection with background updates off
    connection = demo.add_connection()
    page = signed_in(web, demo, connection)
    switch = page.locator(f"#schedule-{connection}")
    expect(switch).not_to_be_checked()
    expect(switch).to_have_attribute("role", "switch")

    # When the user switches background updates on
    switch.check()

    # Then the page and the API agree it is on, with the next run and the bank's daily budget shown
    expect(page.locator("#notice")).to_have_text(f"Background updates on for connection {connection}.")
    card = page.locator(f"#connection-{connection}")
    expect(card).to_contain_text("On, next")
    expect(card).to_contain_text("4 of 4 left today")
    web.step("background-updates-on")
    api = demo.api()
    assert api.connection(connection).json()["schedule"]["enabled"] is True

    # And switching it off again is kept too
    page.locator(f"#schedule-{connection}").uncheck()
    expect(page.locator("#notice")).to_have_text(f"Background updates off for connection {connection}.")
    web.step("background-updates-off")
    assert api.connection(connection).json()["schedule"]["enabled"] is False
    api.close()


def test_decoupled_approval_is_awaited_at_the_apis_pace(demo: DemoUser, web: BrowserPage) -> None:
    # Given a login that needs SCA, and the bank's app approval reported after two checks
    connection = demo.add_connection(**NO_CONSENT)
    page = signed_in(web, demo, connection)
    page.click(f"#sync-{connection}")
    _credentials(page, "demo", "demo")
    page.click("#submit")
    expect(page.locator("#procedure-905")).to_be_visible()  # the credentials' answer is in: count from here
    answers_before = demo.stack.runtime.invocations["CollectCredentialsFunction"]

    # When the user picks the decoupled procedure
    page.click("#procedure-905")
    page.click("#submit")

    # Then the page waits with progress, checking by itself, and shows the accounts once the bank reports approval
    expect(page.locator("#decoupled-progress")).to_be_visible()
    web.step("confirm-in-banking-app")
    expect(page.locator("#decoupled-checks")).to_contain_text("not confirmed yet")
    web.step("checked-not-yet")
    expect(page.locator("#accounts")).to_be_visible()
    web.step("accounts")
    # Three checks reach the bank (two "in progress", one approval); at most one came too early and was refused
    # with Retry-After, after which the page keeps the API's pace.
    answers = demo.stack.runtime.invocations["CollectCredentialsFunction"] - answers_before
    assert 4 <= answers <= 5, answers


def test_redirect_to_the_bank_and_back(demo: DemoUser, web: BrowserPage) -> None:
    # Given a connection at the redirect bank without consent
    connection = demo.add_connection(bank_blz="DEMO0002", **NO_CONSENT)
    page = signed_in(web, demo, connection)

    # When the user syncs and follows the link to the bank, and allows access there
    page.click(f"#sync-{connection}")
    expect(page.locator("#to-bank")).to_be_visible()
    web.step("redirect-required")
    page.click("#to-bank")
    expect(page.locator("h1")).to_have_text("Authorize access")
    web.step("bank-page")
    page.click("#approve")

    # Then the bank's return page passes the full URL on, and the update finishes with the accounts
    expect(page.locator("#accounts")).to_be_visible()
    assert page.url == demo.url  # the authorization code does not stay in the address bar
    web.step("back-with-accounts")
    assert demo.sandbox.world.connection(connection)["consentExpiresAt"] is not None


def test_cancelling_at_the_bank_shows_why_the_update_failed(demo: DemoUser, web: BrowserPage) -> None:
    connection = demo.add_connection(bank_blz="DEMO0002", **NO_CONSENT)
    page = signed_in(web, demo, connection)
    page.click(f"#sync-{connection}")
    page.click("#to-bank")
    page.click("#cancel")
    expect(page.locator("#failure")).to_contain_text("BANK_REJECTED")
    expect(page.locator("#update-status")).to_contain_text("Failed")
    web.step("cancelled-at-the-bank")


def test_an_update_started_elsewhere_is_offered_instead_of_a_second_one(demo: DemoUser, web: BrowserPage) -> None:
    # Given the page is open, and meanwhile the user starts an update on another device
    connection = demo.add_connection(**NO_CONSENT)
    page = signed_in(web, demo, connection)
    api = demo.api()
    started = api.trigger(connection, {})
    assert started.status_code == 202, started.text
    api.close()

    # When they tap "Sync now" on the page
    page.click(f"#sync-{connection}")

    # Then the 409 names the running update and the page offers to follow it
    expect(page.locator("#problem")).to_contain_text("UPDATE_ALREADY_RUNNING")
    web.step("already-running")
    page.click("#show-running")
    expect(page.locator("#credentials-form")).to_be_visible()
    web.step("running-update-shown")

    # And the refreshed list says so too, with the way back to it
    page.click("#back")
    expect(page.locator(f"#connection-{connection}")).to_contain_text("Update running")
    page.click(f"#running-{connection}")
    expect(page.locator("#credentials-form")).to_be_visible()
