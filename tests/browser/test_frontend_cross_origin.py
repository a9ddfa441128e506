"""The reference front end hosted apart from the API, as an operator hosts it: the page on one origin (a port of its
own, its config.js naming the API), the HTTP API on another, the stack allowing the page's origin (AllowedOrigins).
Every call is cross-origin, so each flow below works only through CORS: preflights the API answers before its
authorizer, and the headers the page must read (Retry-After, Location) exposed to it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Page, expect

from tests.support.browser import BrowserPage
from tests.support.front_end import NO_CONSENT, DemoUser, demo_user, signed_in


@pytest.fixture(scope="module")
def demo(sandbox: Any) -> Iterator[DemoUser]:
    # Decoupled checks at most every 2 s: the page must read the API's Retry-After across origins.
    with demo_user(sandbox, "cors", cross_origin=True, env={"DECOUPLED_MIN_INTERVAL_SECONDS": "2"}) as user:
        yield user


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def _api_calls(page: Page, demo: DemoUser) -> list[str]:
    """The origins of the page's calls to the API, as they happen."""
    seen: list[str] = []
    page.on("request", lambda request: seen.append(_origin(request.url)) if "/v1/" in request.url else None)
    return seen


def test_the_page_and_the_api_are_on_two_origins(demo: DemoUser) -> None:
    assert _origin(demo.url) != _origin(demo.stack.api_url)


def test_a_whole_update_with_a_wrong_tan_from_another_origin(demo: DemoUser, web: BrowserPage) -> None:
    # Given a connection without consent, and the page on its own origin
    connection = demo.add_connection(**NO_CONSENT)
    page = signed_in(web, demo, connection)
    calls = _api_calls(page, demo)
    web.step("connections-from-another-origin")
    # When the user syncs, logs in, picks smsTAN, sends a wrong TAN, then the right one
    page.click(f"#sync-{connection}")
    page.fill("#credential-0", "demo")
    page.fill("#credential-1", "demo")
    page.click("#submit")
    page.click("#procedure-901")
    page.click("#submit")
    page.fill("#tan", "000000")
    page.click("#submit")
    expect(page.locator("#bank-message")).to_contain_text("TAN ist ungültig")
    page.fill("#tan", "123456")
    page.click("#submit")
    # Then the accounts arrive, every call having gone to the API's origin
    expect(page.locator("#accounts tbody tr")).to_have_count(2)
    web.step("accounts-from-another-origin")
    assert calls and set(calls) == {_origin(demo.stack.api_url)}


def test_the_decoupled_pace_is_read_from_retry_after_across_origins(demo: DemoUser, web: BrowserPage) -> None:
    # Given a login waiting for approval in the banking app, at an API allowing one check every 2 s
    connection = demo.add_connection(**NO_CONSENT)
    page = signed_in(web, demo, connection)
    page.click(f"#sync-{connection}")
    page.fill("#credential-0", "demo")
    page.fill("#credential-1", "demo")
    page.click("#submit")
    expect(page.locator("#procedure-905")).to_be_visible()  # the credentials' answer is in: count from here
    answers_before = demo.stack.runtime.invocations["CollectCredentialsFunction"]
    page.click("#procedure-905")
    page.click("#submit")
    # Then the page waits, checking at the pace the API's Retry-After sets (readable only when CORS exposes it)
    expect(page.locator("#accounts")).to_be_visible()
    web.step("approved-from-another-origin")
    answers = demo.stack.runtime.invocations["CollectCredentialsFunction"] - answers_before
    assert 4 <= answers <= 5, answers


def test_the_bank_sends_the_user_back_to_the_pages_origin(demo: DemoUser, web: BrowserPage) -> None:
    # Given a connection at the redirect bank
    connection = demo.add_connection(bank_blz="DEMO0002", **NO_CONSENT)
    page = signed_in(web, demo, connection)
    # When the user goes to the bank and allows access there
    page.click(f"#sync-{connection}")
    page.click("#to-bank")
    page.click("#approve")
    # Then the page's own callback.html passes the bank's answer to the API across origins, and the update ends well
    expect(page.locator("#accounts")).to_be_visible()
    assert page.url == demo.url
    web.step("back-from-the-bank-on-the-pages-origin")
