"""The reference front end on another origin than an API without CORS (AllowedOrigins empty): the browser's
preflight meets the route table as on AWS (no OPTIONS route: 404), so the page cannot call the API, and no function
ever runs for it. The page says the service cannot be reached."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.support.browser import BrowserPage
from tests.support.front_end import DemoUser, demo_user


@pytest.fixture(scope="module")
def demo(sandbox: Any) -> Iterator[DemoUser]:
    with demo_user(sandbox, "no-cors", cross_origin=True, AllowedOrigins="") as user:
        yield user


def test_a_page_on_another_origin_cannot_call_an_api_without_cors(demo: DemoUser, web: BrowserPage) -> None:
    # Given the signed-in page on its own origin, and the API allowing no other origin
    demo.add_connection()
    page = web.page
    page.goto(demo.url)
    page.click("#sign-in-button")
    # Then the browser refuses the API's answer: the page cannot list the connections
    expect(page.locator("#problem")).to_contain_text("The service cannot be reached")
    web.step("refused-without-cors")
    # And nothing behind the API ran: the preflight never reached a function
    assert demo.stack.runtime.invocations["QueryFunction"] == 0
