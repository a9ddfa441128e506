"""The web form asks the bank about a decoupled approval no more often than finAPI suggests (every 5 s)."""

from __future__ import annotations

from collections.abc import Callable

from finapi_sandbox import SandboxServer
from finapi_sandbox.webform import WebFormServer
from tests.support.webform import FinapiUser, PageDriver, wait_for_status


def test_page_refreshes_between_polls_do_not_ask_the_bank(
    access: SandboxServer, make_webform: Callable[..., WebFormServer], make_user: Callable[..., FinapiUser]
) -> None:
    # Given a web form waiting for a decoupled approval, with finAPI's pace
    webform = make_webform(decoupled_poll_seconds=5)
    user = make_user(webform, main={"consent_expires_at": None, "stored_pin": True})
    created = user.api.create({"bankConnectionId": user.connections["main"]}).json()
    web_form = wait_for_status(webform, user.api, created["id"], "WEB_FORM_REQUIRED")["payload"]["webForm"]
    driver = PageDriver(web_form["url"])
    driver.post(f"/wf/{web_form['id']}/procedure", procedureId="905")
    assert "Confirm in your banking app" in driver.page.text

    def bank_calls() -> int:
        return len(
            [c for c in access.world.calls if c.connection_id == user.connections["main"] and c.method == "POST"]
        )

    asked = bank_calls()

    # When the page refreshes and the user presses "I have confirmed" within the 5 seconds
    driver.page = driver.client.get(web_form["url"])
    driver.post(f"/wf/{web_form['id']}/decoupled")

    # Then the bank was not asked again; after 5 seconds (sandbox clock) it is
    assert bank_calls() == asked
    access.world.set_clock_offset(access.world.clock_offset + 5.5)
    driver.page = driver.client.get(web_form["url"])
    assert bank_calls() == asked + 1
