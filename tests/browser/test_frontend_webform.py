"""The reference front end on a Web Form 2.0 deployment (`Integration=WEB_FORM`), clicked through in headless
Chromium: the user-present flows of the demo's Web Form chapter as the end user sees them. The app offers finAPI's
web form when the bank needs the user, the user answers the bank there (in a tab of its own), and the app notices by
itself that the update went on."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.support.browser import BrowserPage
from tests.support.front_end import NO_CONSENT, DemoUser, demo_user, signed_in


@pytest.fixture(scope="module")
def demo(sandbox: Any, webform_sandbox: Any) -> Iterator[DemoUser]:
    with demo_user(sandbox, "webform", Integration="WEB_FORM", WebFormBaseUrl=webform_sandbox.base_url) as user:
        yield user


def _sync(web: BrowserPage, demo: DemoUser, connection: int) -> Page:
    page = signed_in(web, demo, connection)
    web.step("connections")
    page.click(f"#sync-{connection}")
    return page


def _open_web_form(page: Page) -> Page:
    """The user opens finAPI's web form from the app: it opens in a tab of its own, at the bank's login."""
    with page.context.expect_page() as opened:
        page.click("#web-form")
    form = opened.value
    expect(form.locator("h1")).to_have_text("Log in to your bank")
    return form


def test_an_update_finapi_runs_alone_shows_the_accounts(demo: DemoUser, web: BrowserPage) -> None:
    # Given a connection whose consent is valid
    connection = demo.add_connection()
    # When the user syncs it
    page = _sync(web, demo, connection)
    # Then finAPI's background task runs it without asking anything, and the app shows the updated accounts
    expect(page.locator("#accounts")).to_be_visible()
    expect(page.locator("#web-form")).to_have_count(0)
    web.step("accounts")


def test_a_bank_that_needs_the_user_is_answered_in_finapis_web_form(demo: DemoUser, web: BrowserPage) -> None:
    # Given a connection whose consent is gone
    connection = demo.add_connection(**NO_CONSENT)
    # When the user syncs it, the app offers finAPI's web form
    page = _sync(web, demo, connection)
    expect(page.locator("#web-form")).to_be_visible()
    web.step("web-form-offered")
    # And the user opens it in a tab of its own and answers the bank there: login, TAN procedure, TAN
    form = _open_web_form(page)
    form.fill("#user-id", "demo")
    form.fill("#pin", "demo")
    form.click("#submit")
    expect(form.locator("h1")).to_have_text("Choose a TAN procedure")
    form.click("#procedure-901")
    form.click("#submit")
    expect(form.locator("h1")).to_have_text("Enter your TAN")
    form.fill("#tan", "123456")
    form.screenshot(path=str(web.folder / "web-form-tan.png"))
    form.click("#submit")
    # Then, without the user doing anything more in the app, it shows the updated accounts
    expect(page.locator("#accounts")).to_be_visible()
    expect(page.locator("#web-form")).to_have_count(0)
    web.step("accounts-after-web-form")


def test_aborting_the_web_form_ends_the_update_with_a_reason(demo: DemoUser, web: BrowserPage) -> None:
    # Given a connection whose consent is gone, and the web form offered
    connection = demo.add_connection(**NO_CONSENT)
    page = _sync(web, demo, connection)
    form = _open_web_form(page)
    # When the user gives up in the web form
    form.click("#abort")
    # Then the app shows that the update did not happen and why
    expect(page.locator("#failure")).to_contain_text("cancelled in the bank's form")
    expect(page.locator("#failure")).to_contain_text("WEB_FORM_ABORTED")
    web.step("aborted")
