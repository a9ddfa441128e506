"""The reference front end's bank data, clicked through in headless Chromium on the whole local stack: each card
names its bank and lists its accounts with balance and currency; after a sync the result page says what changed
(balances before and after, new transactions per account, each list a click away) and the card says how many are new
since the user last looked (the sync cursor), until they mark them seen. Screenshots under
test-artifacts/screenshots/<test>/."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.support.browser import BrowserPage
from tests.support.front_end import DemoUser, demo_user, signed_in

DAYS = 5 * 86400.0


@pytest.fixture(scope="module")
def demo(sandbox: Any) -> Iterator[DemoUser]:
    with demo_user(sandbox, "bankdata") as user:
        yield user


@pytest.fixture
def days_pass(sandbox: Any) -> Iterator[Any]:
    """finAPI's clock moves on (its test bank books meanwhile); back where it was after the test."""
    world = sandbox.world
    original = world.clock_offset
    try:
        yield lambda seconds: world.set_clock_offset(world.clock_offset + seconds)
    finally:
        world.set_clock_offset(original)


def test_cards_name_the_bank_and_accounts_and_a_sync_says_what_changed(
    demo: DemoUser, web: BrowserPage, days_pass: Any
) -> None:
    # Given a connection with two accounts, its consent valid (a sync needs nothing from the user), updated before
    connection = demo.add_connection(imported_account_count=2)
    accounts = demo.sandbox.world.connection(connection)["accountIds"]
    api = demo.api()
    days_pass(86400)
    started = api.trigger(connection, {})
    assert started.status_code == 202, started.text
    api.wait_for(started.json()["updateId"], {"SUCCEEDED"})
    api.wait_until_unlocked(connection)
    api.close()
    page = signed_in(web, demo, connection)
    card = page.locator(f"#connection-{connection}")
    # Then the card names the bank and lists the accounts with balance and currency, nothing new yet
    expect(card.locator(f"#bank-{connection}")).to_have_text("finAPI Test Bank")
    expect(card.locator(".accounts-now li")).to_have_count(2)
    expect(card.locator(f"#account-now-{accounts[0]}")).to_contain_text("Girokonto")
    expect(card.locator(f"#account-now-{accounts[0]} .amount")).to_have_text(re.compile(r"^-?€[\d,]+\.\d\d$"))
    expect(card.locator(".news").first).to_contain_text("No new transactions")
    web.step("card-with-bank-and-accounts")

    # When days pass at the bank and the user syncs
    days_pass(DAYS)
    page.click(f"#sync-{connection}")
    expect(page.locator("#update-status")).to_contain_text("Up to date")
    # Then the result page says what changed: balances before and after, new transactions per account
    expect(page.locator("#changes-summary")).to_contain_text("This update brought")
    expect(page.locator("#changes tbody tr[id^=changed-]")).to_have_count(2)
    api = demo.api()
    update = api.update(_last_update(demo, connection)).json()
    api.close()
    brought = {a["accountId"]: a["importedTransactions"] for a in update["result"]["accounts"]}
    assert sum(brought.values()) > 0, brought
    for account in update["result"]["accounts"]:
        row = page.locator(f"#changed-{account['accountId']}")
        expect(row).to_contain_text("€")
        if account["importedTransactions"]:
            expect(row.locator("button")).to_have_text(
                re.compile(rf"^{account['importedTransactions']} new transactions?$")
            )
    web.step("what-changed")
    # When the user opens an account's new transactions, they are listed, as many as the count says
    busiest = max(brought, key=lambda a: brought[a])
    page.click(f"#changes-{busiest}")
    expect(page.locator(f"#changes-{busiest}")).to_have_attribute("aria-expanded", "true")
    expect(page.locator(f"#changes-{busiest}-items li")).to_have_count(brought[busiest])
    web.step("new-transactions-listed")

    # And back on the cards, each account says how many are new since the user last looked, a click away
    page.click("#back")
    card = page.locator(f"#connection-{connection}")
    expect(card).to_contain_text("Up to date")
    button = card.locator(f"#new-{connection}-{busiest}")
    expect(button).to_have_text(re.compile(rf"^{brought[busiest]} new transactions?$"))
    button.click()
    expect(card.locator(f"#new-{connection}-{busiest}-items li")).to_have_count(brought[busiest])
    web.step("card-new-transactions")
    # And once marked seen, nothing is new any more (the cursor moved on), also after a reload
    card.locator(f"#seen-{connection}").click()
    expect(card.locator(".news").first).to_contain_text("No new transactions")
    expect(card.locator(f"#seen-{connection}")).to_have_count(0)
    page.reload()
    expect(page.locator(f"#connection-{connection} #bank-{connection}")).to_have_text("finAPI Test Bank")
    expect(page.locator(f"#connection-{connection} .news").first).to_contain_text("No new transactions")
    web.step("all-seen")


def _last_update(demo: DemoUser, connection: int) -> str:
    """The connection's last update, as its Succeeded event names it."""
    events = [
        e
        for e in demo.stack.published_events()
        if e["detail-type"] == "BankConnectionUpdate Succeeded" and e["detail"]["connectionId"] == connection
    ]
    return str(events[-1]["detail"]["updateId"])
