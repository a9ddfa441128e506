"""Links and ids in the reference front end, against a finAPI that answers hostile URLs: no address that is not https
(http to loopback only on the local stack) is ever rendered as something to click, nothing a URL carries runs, and an
id from the address bar reaches the API only as the id it must be."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Dialog, Page, expect

from tests.support.browser import BrowserPage
from tests.support.front_end import NO_CONSENT, DemoUser, bare_front_end, demo_user, signed_in

HOSTILE_PAGES = ["javascript:window.__pwned=1;alert(document.domain)", "data:text/html,<script>alert(1)</script>"]
HOSTILE_PAGES += ["http://evil.example/authorize", "https://user@evil.example/authorize"]

# What each page's own module does with URLs it is given (dom.safeLink), whoever serves it.
LINK_CASES: list[tuple[str, str, str | None]] = [
    ("javascript:alert(1)", "127.0.0.1", None),
    (" JavaScript:alert(1)", "127.0.0.1", None),
    ("java\tscript:alert(1)", "127.0.0.1", None),
    ("data:text/html,<script>alert(1)</script>", "127.0.0.1", None),
    ("vbscript:msgbox(1)", "127.0.0.1", None),
    ("http://evil.example/", "127.0.0.1", None),
    ("https://user:pw@bank.example/", "127.0.0.1", None),
    ("/v1/bank-connections", "127.0.0.1", None),
    ("not a url", "127.0.0.1", None),
    ("https://bank.example/authorize?state=1", "app.example.com", "https://bank.example/authorize?state=1"),
    ("http://127.0.0.1:8480/bank", "127.0.0.1", "http://127.0.0.1:8480/bank"),  # the local stack's sandbox
    ("http://localhost:8481/wf/1", "localhost", "http://localhost:8481/wf/1"),
    ("http://127.0.0.1:8480/bank", "app.example.com", None),  # a deployed page never links to plain http
]

_WATCH_VIOLATIONS = """() => {
  window.__violations = [];
  document.addEventListener('securitypolicyviolation', (e) => window.__violations.push(e.violatedDirective));
}"""
_INJECT = """() => {
  const markup = '<img id="injected" alt="" src="nope.png" onerror="window.__pwned = 1">';
  document.body.insertAdjacentHTML('beforeend', markup);
  const a = document.createElement('a');
  a.id = 'js-link';
  a.href = 'javascript:window.__pwned = 2';
  a.textContent = 'a javascript: link';
  document.body.append(a);
}"""


@pytest.fixture(scope="module")
def demo(sandbox: Any) -> Iterator[DemoUser]:
    with demo_user(sandbox, "links") as user:
        yield user


def _dialogs(page: Page) -> list[str]:
    opened: list[str] = []

    def record(dialog: Dialog) -> None:
        opened.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", record)
    return opened


def _unsafe_links(page: Page) -> list[str]:
    """Every link on the page that leads neither to https nor to the page's own origin."""
    hrefs: list[str] = page.eval_on_selector_all("a[href]", "links => links.map((a) => a.href)")
    origin: str = page.evaluate("location.origin")
    return [href for href in hrefs if not (href.startswith("https:") or href.startswith(origin + "/"))]


@pytest.mark.parametrize("name", ["index.html", "callback.html"])
def test_the_pages_keep_scripts_out_by_themselves_when_served_without_headers(web: BrowserPage, name: str) -> None:
    # Given a page of the front end served by a plain file server: no Content-Security-Policy header at all
    page = web.page
    dialogs = _dialogs(page)
    with bare_front_end() as site:
        page.goto(f"{site}/{name}")
        page.evaluate(_WATCH_VIOLATIONS)
        # When markup with an inline handler gets in, and a javascript: link is clicked
        page.evaluate(_INJECT)
        page.click("#js-link")
        # Then the page's own policy refuses both (the browser reports each refusal), and neither ran
        page.wait_for_function("window.__violations.length >= 2")
        assert page.evaluate("window.__pwned") is None and dialogs == []
        web.step(f"{name}-refused-scripts")


def test_only_https_and_local_loopback_urls_become_links(web: BrowserPage) -> None:
    page = web.page
    with bare_front_end() as site:
        page.goto(f"{site}/index.html")
        found = page.evaluate(
            """async (cases) => {
              const { safeLink } = await import('./dom.js');
              return cases.map(([url, host]) => safeLink(url, host));
            }""",
            [[url, host] for url, host, _ in LINK_CASES],
        )
    assert found == [expected for _, _, expected in LINK_CASES]


@pytest.mark.parametrize("bank_page", HOSTILE_PAGES)
def test_a_hostile_bank_page_is_never_a_link_and_nothing_runs(demo: DemoUser, web: BrowserPage, bank_page: str) -> None:
    # Given a redirect bank whose finAPI answer names a hostile address as the bank's page
    connection = demo.add_connection(bank_blz="DEMO0002", bank_page_url=bank_page, **NO_CONSENT)
    page = signed_in(web, demo, connection)
    dialogs = _dialogs(page)
    # When the user syncs and the bank asks for its own page
    page.click(f"#sync-{connection}")
    expect(page.locator("#to-bank-unavailable")).to_contain_text("not a secure (https) link")
    web.step("no-link-to-the-bank")
    page.click("#to-bank-unavailable")
    # Then there is nothing to follow: no link but https ones, nothing ran, and the user stays on the page
    assert page.locator("#to-bank").count() == 0 and _unsafe_links(page) == []
    assert page.evaluate("window.__pwned") is None and dialogs == []
    assert page.url == demo.url


def test_an_id_from_the_address_bar_reaches_the_api_only_as_an_id(demo: DemoUser, web: BrowserPage) -> None:
    # Given a signed-in user, and a link whose "update" would walk to another route
    connection = demo.add_connection()
    page = signed_in(web, demo, connection)
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    # (the signed-in page's card fetches may still be in flight: only what the link's document asks counts; the page
    # then drops ?update= from the address with replaceState, which must not clear the list again)
    page.on("framenavigated", lambda frame: requested.clear() if "update=" in frame.url else None)
    # When the user opens it
    page.goto(f"{demo.url}?update=..%2Fbank-connections%2F{connection}")
    # Then the page says the link names no update, shows the connections, and called no route with that id
    expect(page.locator("#problem")).to_contain_text("does not name an update")
    expect(page.locator(f"#connection-{connection}")).to_be_visible()
    web.step("not-an-update")
    api_calls = [url.removeprefix(demo.stack.api_url) for url in requested if "/v1/" in url]
    # (the list of connections, then each card's accounts and new transactions: ids the API gave, never the link's)
    assert api_calls[0] == "/v1/bank-connections", api_calls
    each_card = r"/v1/bank-connections/\d+/(accounts|transactions/changes)"
    assert all(re.fullmatch(each_card, call) for call in api_calls[1:]), api_calls
