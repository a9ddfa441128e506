"""The reference front end on a Web Form 2.0 deployment whose finAPI names its web forms by a `javascript:` URL: the
user is never offered it as a link, neither to open the form nor to fix a failed one, and nothing runs."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Dialog, expect

from finapi_sandbox.webform import WebFormConfig, WebFormServer
from tests.support.browser import BrowserPage
from tests.support.front_end import NO_CONSENT, DemoUser, demo_user, signed_in
from tests.support.webform import PageDriver

HOSTILE_FORM = "javascript:window.__pwned=1;alert(document.domain)//{id}"


@pytest.fixture(scope="module")
def hostile_webform(sandbox: Any) -> Iterator[WebFormServer]:
    config = WebFormConfig(allow_http_loopback_urls=True, decoupled_poll_seconds=0, web_form_url=HOSTILE_FORM)
    server = WebFormServer(sandbox, config).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def demo(sandbox: Any, hostile_webform: WebFormServer) -> Iterator[DemoUser]:
    url = hostile_webform.base_url
    with demo_user(sandbox, "hostile-webform", Integration="WEB_FORM", WebFormBaseUrl=url) as user:
        yield user


def test_a_hostile_web_form_address_is_never_a_link_and_nothing_runs(
    demo: DemoUser, hostile_webform: WebFormServer, web: BrowserPage
) -> None:
    # Given a connection whose bank needs the user, at a finAPI naming its web form by a javascript: address
    connection = demo.add_connection(**NO_CONSENT)
    page = signed_in(web, demo, connection)
    dialogs: list[str] = []

    def record(dialog: Dialog) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", record)
    # When the user syncs and finAPI asks for its web form
    page.click(f"#sync-{connection}")
    expect(page.locator("#web-form-unavailable")).to_contain_text("not a secure (https) link")
    page.click("#web-form-unavailable")
    # Then there is no link to it, and nothing ran
    assert page.locator("#web-form").count() == 0 and page.locator("a[href^='javascript']").count() == 0
    web.step("no-link-to-the-web-form")

    # When the form fails at the bank all the same (the user reached it another way: three wrong TANs)
    (task,) = [t for t in hostile_webform.engine.tasks.values() if t.connection_id == connection]
    assert task.web_form is not None
    form = f"/wf/{task.web_form.id}"
    driver = PageDriver(f"{hostile_webform.base_url}{form}")
    driver.post(f"{form}/credentials", userId="demo", pin="demo")
    driver.post(f"{form}/procedure", procedureId="901")
    for _ in range(3):
        driver.post(f"{form}/challenge", challengeResponse="000000")

    # Then the failure quotes the bank and offers no link to the failed form
    expect(page.locator("#failure")).to_contain_text("Die TAN war mehrfach falsch")
    assert page.locator("#fix-it").count() == 0 and page.locator("a[href^='javascript']").count() == 0
    assert page.evaluate("window.__pwned") is None and dialogs == []
    web.step("failed-without-a-link")
