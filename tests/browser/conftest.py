"""Browser fixtures: one headless Chromium per test session, a fresh context (cookies, storage) per test.

`web` is a `BrowserPage`: `web.page` is the Playwright page, `web.step("name")` saves
test-artifacts/screenshots/<test>/<nn>-<name>.png (and checks every control has a label); a failing test gets a last
`failure` screenshot. Reuse it for any page the tests serve on loopback.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Browser, expect, sync_playwright

from tests.support.browser import CHROMIUM, LAUNCH_ARGS, BrowserPage, screenshot_folder
from tests.support.webform_fixtures import access, make_user, make_webform, receiver, webform

__all__ = ["access", "browser", "make_user", "make_webform", "receiver", "web", "webform"]


# What the page shows after the system has worked (a download watched to its end) can take seconds on a busy
# machine: assertions wait as long as actions do, instead of Playwright's 5 s.
expect.set_options(timeout=20_000)


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        message = f"no Chromium at {CHROMIUM} (make test installs Debian's chromium and chromium-driver)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=LAUNCH_ARGS)
        yield launched
        launched.close()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[Any]) -> Any:
    report = yield
    if report.when == "call":
        item.stash[_FAILED] = report.failed
    return report


_FAILED = pytest.StashKey[bool]()


@pytest.fixture
def web(browser: Browser, request: pytest.FixtureRequest) -> Iterator[BrowserPage]:
    context = browser.new_context(locale="en-GB", viewport={"width": 900, "height": 900})
    context.set_default_timeout(20_000)
    page = context.new_page()
    tab = BrowserPage(page, screenshot_folder(request.node.name))
    try:
        yield tab
    finally:
        if request.node.stash.get(_FAILED, False):
            tab.check_labels = False
            tab.step("failure")
        context.close()
