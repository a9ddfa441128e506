"""The simulator's transactions (finapi_sandbox/ledger.py): what the test bank books, and what finAPI imports of it,
deterministic under a seed. These are the behaviours the change summaries and the sync cursor are proven against."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from finapi_sandbox.ledger import DOWNLOAD_WINDOW_DAYS, GERMAN_TIME, HISTORY_DAYS, FeedConfig, Ledger

START = datetime(2026, 3, 2, 7, 0, tzinfo=UTC)


def opened(seed: int = 7, feed: FeedConfig | None = None, account: int = 1) -> Ledger:
    ledger = Ledger(seed, feed)
    ledger.open_account(account, f"DEMO0001/1/{account}", START, 1000)
    return ledger


def test_the_same_seed_gives_the_same_bookings_and_ids() -> None:
    # Given two ledgers with one seed and one with another
    first, second, other = opened(7), opened(7), opened(8)
    # When each downloads at the same moments
    for ledger in (first, second, other):
        for days in (1, 2, 5):
            ledger.download(1, START + timedelta(days=days))
    # Then the first two have the same transactions (ids included); the third differs

    def rows(ledger: Ledger) -> list[tuple[int, Decimal, str]]:
        return sorted((r.id, r.amount, r.purpose) for r in ledger.rows([1]))

    assert rows(first) == rows(second) != rows(other)


def test_days_differ_some_quiet_some_busy() -> None:
    ledger = Ledger(7)
    counts = [len(ledger.bookings_on("DEMO0001/1/0", START.date() + timedelta(days=n))) for n in range(200)]
    assert 0 in counts and max(counts) >= 8 and any(1 <= c <= 4 for c in counts)


def test_an_account_starts_with_its_recent_history_and_its_balance() -> None:
    ledger = opened()
    rows = ledger.rows([1])
    assert rows and all(r.imported_at == START for r in rows)
    assert min(r.booked_on for r in rows) >= (START - timedelta(days=HISTORY_DAYS)).date() - timedelta(days=1)
    assert ledger.balance(1) == Decimal("1000.00")


def test_several_downloads_a_day_split_the_days_bookings_and_never_import_one_twice() -> None:
    # Given an account, downloaded every two hours for three days
    ledger = opened()
    imported: list[int] = []
    for hours in range(2, 72, 2):
        imported += ledger.download(1, START + timedelta(hours=hours)).imported
    # Then no id came twice, and a day's bookings arrived over several downloads
    assert len(imported) == len(set(imported))
    days: dict[date, set[datetime]] = {}
    for row in ledger.rows([1]):
        if row.imported_at > START and row.booking is not None:
            days.setdefault(row.booking.appears_at.astimezone(GERMAN_TIME).date(), set()).add(row.imported_at)
    assert any(len(moments) > 1 for moments in days.values())


def test_the_ids_follow_no_order() -> None:
    # finAPI documents no order of its transaction ids: the simulator gives them in none
    ledger = opened()
    later = ledger.download(1, START + timedelta(days=3)).imported
    earlier = [r.id for r in ledger.rows([1]) if r.imported_at == START]
    assert later and min(later) < max(earlier)


def test_after_a_long_gap_an_adjusting_entry_makes_the_balance_add_up() -> None:
    # Given an account not updated for 120 days (more than finAPI's 89-day download window)
    ledger = opened()
    before = ledger.balance(1)
    at = START + timedelta(days=120)
    done = ledger.download(1, at)
    # Then one adjusting entry covers what the bank no longer delivers, and the balance is the bank's
    assert done.adjusting_entry is not None
    entry = next(r for r in ledger.rows([1]) if r.id == done.adjusting_entry)
    assert entry.is_adjusting_entry and entry.imported_at == at
    assert entry.booked_on < (at - timedelta(days=DOWNLOAD_WINDOW_DAYS)).date()
    bank = sum(
        (
            b.amount
            for n in range(121)
            for b in ledger.bookings_on("DEMO0001/1/1", (START + timedelta(days=n)).astimezone(GERMAN_TIME).date())
            if START < b.appears_at <= at and (b.dropped_at is None or b.dropped_at > at)
        ),
        Decimal(0),
    )
    assert ledger.balance(1) == before + bank


def test_a_future_booked_transaction_the_bank_drops_is_deleted_at_the_next_download() -> None:
    # Given a bank whose future-booked bookings are always dropped again
    ledger = opened(feed=FeedConfig(quiet_day_share=0, busy_day_share=1, future_booked_share=1, dropped_share=1))
    first = ledger.download(1, START + timedelta(hours=20))
    pending = [r for r in ledger.rows([1]) if r.id in first.imported]
    assert pending and all(r.booked_on > r.imported_at.astimezone(GERMAN_TIME).date() for r in pending)
    # When finAPI downloads after the bank dropped them
    before = ledger.balance(1)
    dropped = {r.id: r.amount for r in ledger.rows([1]) if r.booking is not None and r.booking.dropped_at is not None}
    later = ledger.download(1, START + timedelta(days=5))
    # Then they are gone, and the balance no longer counts them
    assert set(first.imported) <= set(later.removed) <= set(dropped)
    assert not {r.id for r in ledger.rows([1])} & set(later.removed)
    added = sum((r.amount for r in ledger.rows([1]) if r.id in later.imported), Decimal(0))
    assert ledger.balance(1) == before + added - sum((dropped[i] for i in later.removed), Decimal(0))
