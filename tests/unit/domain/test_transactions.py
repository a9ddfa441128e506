"""What an update brought (domain/transactions.py): found by import day and seen ids, never by ids' order or isNew."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from bankupdate.domain.transactions import (
    CLOCK_SKEW,
    ENTRY_IDS,
    AccountChange,
    BankTransaction,
    ScanState,
    balance_before,
    entries,
    finapi_day,
    per_account,
    scan,
    search_day,
    to_confirm,
)

MORNING = datetime(2026, 11, 20, 7, 0, tzinfo=UTC)


def tx(
    transaction_id: int,
    imported_at: datetime,
    *,
    account: int = 1,
    amount: str = "-10.00",
    booked: date | None = None,
    adjusting: bool = False,
) -> BankTransaction:
    return BankTransaction(
        transaction_id=transaction_id,
        account_id=account,
        amount=Decimal(amount),
        bank_booking_date=booked or finapi_day(imported_at),
        imported_at=imported_at,
        adjusting_entry=adjusting,
    )


def test_a_connections_first_look_counts_only_what_its_update_imported() -> None:
    # Given transactions imported this morning before the update, and two during it
    earlier = [tx(900, MORNING - timedelta(hours=3)), tx(5, MORNING - timedelta(minutes=30))]
    during = [tx(77, MORNING + timedelta(seconds=20)), tx(3, MORNING + timedelta(seconds=21))]
    # When the first look searches from the update's day
    assert search_day(None, MORNING) == finapi_day(MORNING)
    result = scan(None, earlier + during, [], update_id="u1", baseline=MORNING, now=MORNING + timedelta(minutes=1))
    # Then only the update's two count, and every id of the day is remembered
    assert sorted(t.transaction_id for t in result.added) == [3, 77]
    assert result.state.seen_ids() == {900, 5, 77, 3}
    assert result.state.last_update_id == "u1" and result.removed == ()


def test_several_updates_a_day_never_count_a_transaction_twice() -> None:
    # Given a look at 07:00 that saw ids 10 and 20
    first = scan(None, [tx(10, MORNING), tx(20, MORNING)], [], update_id="u1", baseline=MORNING, now=MORNING)
    # When the next update on the same day imports id 5 (a lower id: finAPI's ids have no order)
    noon = MORNING + timedelta(hours=5)
    assert search_day(first.state, noon) == finapi_day(MORNING)  # minImportDate is a date: the morning is found again
    found = [tx(10, MORNING), tx(20, MORNING), tx(5, noon)]
    second = scan(first.state, found, [], update_id="u2", baseline=noon, now=noon)
    # Then only id 5 is new
    assert [t.transaction_id for t in second.added] == [5]
    # And a third look with nothing new finds nothing
    third = scan(second.state, found, [], update_id="u3", baseline=noon, now=noon + timedelta(hours=1))
    assert third.added == () and third.removed == ()


def test_the_next_day_starts_from_the_last_looks_day_and_forgets_older_ids() -> None:
    late = datetime(2026, 11, 20, 22, 59, tzinfo=UTC)  # 23:59 in Berlin
    first = scan(None, [tx(1, late)], [], update_id="u1", baseline=late, now=late)
    after_midnight = late + timedelta(minutes=3)  # 00:02 on the 21st in Berlin, within the clock skew of the 20th
    assert first.state.since == finapi_day(late - CLOCK_SKEW)
    found = [tx(1, late), tx(2, late + timedelta(minutes=1))]  # finAPI imported id 2 at 00:00 (its clock)
    second = scan(first.state, found, [], update_id="u2", baseline=after_midnight, now=after_midnight)
    assert [t.transaction_id for t in second.added] == [2]
    next_day = after_midnight + timedelta(days=1)
    third = scan(second.state, [], [], update_id="u3", baseline=next_day, now=next_day)
    assert third.state.seen == {} and third.added == ()


def test_an_adjusting_entry_with_an_old_booking_date_counts_when_it_is_imported() -> None:
    # Given a connection looked at 120 days ago
    old = MORNING - timedelta(days=120)
    first = scan(None, [], [], update_id="u1", baseline=old, now=old)
    # When finAPI imports an adjusting entry booked 90 days back, with this morning's import date
    entry = tx(4, MORNING, booked=finapi_day(MORNING) - timedelta(days=90), adjusting=True, amount="-512.30")
    second = scan(first.state, [entry, tx(6, MORNING)], [], update_id="u2", baseline=MORNING, now=MORNING)
    # Then it is among what the update brought
    assert {t.transaction_id for t in second.added} == {4, 6}


def test_a_partial_download_brings_the_rest_once_at_the_next_update() -> None:
    # Given an update in which account 2 failed: only account 1's transactions were imported
    first = scan(None, [tx(1, MORNING, account=1)], [], update_id="u1", baseline=MORNING, now=MORNING)
    # When the next update imports account 2's (and nothing more of account 1)
    later = MORNING + timedelta(hours=2)
    found = [tx(1, MORNING, account=1), tx(8, later, account=2), tx(9, later, account=2)]
    second = scan(first.state, found, [], update_id="u2", baseline=later, now=later)
    assert [(t.account_id, t.transaction_id) for t in second.added] == [(2, 8), (2, 9)]


def test_a_seen_transaction_the_search_misses_is_removed_only_if_finapi_no_longer_has_it() -> None:
    first = scan(None, [tx(1, MORNING), tx(2, MORNING)], [], update_id="u1", baseline=MORNING, now=MORNING)
    later = MORNING + timedelta(hours=1)
    # When the search returns only id 1 (id 2 deleted, or shifted to another page while the pages were read)
    assert to_confirm(first.state, [tx(1, MORNING)]) == [2]
    # Then a read by id decides: still there is not removed, gone is
    shifted = scan(first.state, [tx(1, MORNING)], [tx(2, MORNING)], update_id="u2", baseline=later, now=later)
    assert shifted.removed == () and shifted.added == ()
    deleted = scan(first.state, [tx(1, MORNING)], [], update_id="u2", baseline=later, now=later)
    assert deleted.removed == ((1, 2),) and 2 not in deleted.state.seen_ids()


def test_a_future_booked_transaction_is_watched_until_booked_and_reported_when_dropped() -> None:
    # Given an update that brought a transaction the bank books in two days
    pending = tx(50, MORNING, account=3, booked=finapi_day(MORNING) + timedelta(days=2))
    first = scan(None, [pending], [], update_id="u1", baseline=MORNING, now=MORNING)
    assert set(first.state.watched) == {50}
    # When, two days later, finAPI no longer has it
    later = MORNING + timedelta(days=2)
    assert to_confirm(first.state, []) == [50]
    dropped = scan(first.state, [], [], update_id="u2", baseline=later, now=later)
    # Then it is removed, with its account
    assert dropped.removed == ((3, 50),) and dropped.state.watched == {}
    # And had the bank booked it, nothing would be removed and the watch would end
    booked = scan(first.state, [], [pending], update_id="u2", baseline=later, now=later + timedelta(days=1))
    assert booked.removed == () and booked.state.watched == {}


def test_the_state_holds_ids_days_and_counters_only() -> None:
    bank_data = tx(7, MORNING, amount="-1234.56").model_copy(
        update={"purpose": "Miete November", "kind": "Dauerauftrag"}
    )
    result = scan(None, [bank_data], [], update_id="u1", baseline=MORNING, now=MORNING)
    stored = json.dumps(result.state.model_dump(mode="json"))
    assert "1234" not in stored and "Miete" not in stored and "Dauerauftrag" not in stored
    made = entries(result, first_seq=1, update_id="u1", at=MORNING)
    assert "1234" not in json.dumps([e.model_dump(mode="json") for e in made])


def test_a_big_import_is_split_into_entries_of_at_most_entry_ids() -> None:
    many = [tx(i, MORNING) for i in range(1, ENTRY_IDS * 2 + 2)]
    result = scan(None, many, [], update_id="u1", baseline=MORNING, now=MORNING)
    made = entries(result, first_seq=5, update_id="u1", at=MORNING)
    assert [e.seq for e in made] == [5, 6, 7] and [e.size for e in made] == [ENTRY_IDS, ENTRY_IDS, 1]
    counted = per_account(made, {t.transaction_id: t.amount for t in many})
    assert counted == {1: AccountChange(imported=len(many), removed=0, imported_sum=Decimal("-10.00") * len(many))}


def test_state_survives_json_as_stored() -> None:
    result = scan(None, [tx(1, MORNING, booked=date(2026, 11, 23))], [], update_id="u1", baseline=MORNING, now=MORNING)
    assert ScanState.model_validate(json.loads(result.state.model_dump_json())) == result.state


def test_balance_before() -> None:
    change = AccountChange(imported=2, removed=0, imported_sum=Decimal("-20.50"))
    assert balance_before(100.0, recorded_before=130.0, change=change, new_account=False) == 130.0
    assert balance_before(100.0, recorded_before=None, change=change, new_account=False) == 120.5
    assert balance_before(100.0, recorded_before=None, change=None, new_account=False) == 100.0
    assert balance_before(100.0, recorded_before=None, change=change, new_account=True) is None
    gone = AccountChange(imported=0, removed=1, imported_sum=Decimal(0))
    assert balance_before(100.0, recorded_before=None, change=gone, new_account=False) is None


def test_a_watched_transaction_of_an_account_whose_download_failed_stays_watched() -> None:
    # Given a watched future-booked transaction
    pending = tx(50, MORNING, account=3, booked=finapi_day(MORNING) + timedelta(days=1))
    first = scan(None, [pending], [], update_id="u1", baseline=MORNING, now=MORNING)
    # When, after its booking day, an update finds it still there but its account was not downloaded
    later = MORNING + timedelta(days=3)
    kept = scan(first.state, [], [pending], update_id="u2", baseline=later, now=later, downloaded=[1, 2])
    # Then it stays watched: finAPI may still lose it at the account's next download
    assert set(kept.state.watched) == {50}
    # And a download of its account that still shows it ends the watch
    done = scan(kept.state, [], [pending], update_id="u3", baseline=later, now=later, downloaded=[3])
    assert done.state.watched == {} and done.removed == ()


def test_the_history_before_the_first_look_is_never_added_nor_removed() -> None:
    # Given a first look that found this morning's history (imported before the update) and one new transaction
    history, new = tx(900, MORNING - timedelta(hours=2)), tx(3, MORNING + timedelta(seconds=20))
    first = scan(None, [history, new], [], update_id="u1", baseline=MORNING, now=MORNING + timedelta(minutes=1))
    assert [t.transaction_id for t in first.added] == [3] and first.state.uncounted == (900,)
    # When finAPI no longer has the history's transaction at the next look
    later = MORNING + timedelta(hours=3)
    second = scan(first.state, [new], [], update_id="u2", baseline=later, now=later)
    # Then it is not reported removed (the change log never added it), and forgotten
    assert second.removed == () and 900 not in second.state.seen_ids() and second.state.uncounted == ()


def test_a_history_imported_a_minute_before_the_first_update_is_not_new() -> None:
    # A connection imported into finAPI (with its history) a minute before the app's first update through us
    history = [tx(i, MORNING - timedelta(minutes=1)) for i in (1, 2, 3)]
    result = scan(
        None, [*history, tx(4, MORNING + timedelta(seconds=30))], [], update_id="u1", baseline=MORNING, now=MORNING
    )
    assert [t.transaction_id for t in result.added] == [4]
