"""What an update brought (services/what_changed.py, called by the poll that sees a successful update's end): per
account the transactions finAPI imported and removed, the balances before and after, in the record and in the event;
finAPI (the sandbox over HTTP) imports what its bank booked (finapi_sandbox/ledger.py)."""

from __future__ import annotations

from datetime import datetime

from bankupdate.domain.events import UpdateSucceeded
from bankupdate.domain.model import AccountOutcome, AccountType, UpdateOptions, UpdateRecord, UpdateStatus
from tests.usecases.system import NO_SCA, BankUser, System

DAY = 86400.0


def sync(system: System, user: BankUser, options: UpdateOptions | None = None) -> UpdateRecord:
    """A user-present update that runs to its end (its workflow polls until the download is done)."""
    started = system.trigger(user, credentials=NO_SCA, options=options)
    system.run(started.update_id)
    done = system.record(started.update_id)
    assert done.status is UpdateStatus.SUCCEEDED, done.error
    return done


def imported_by_finapi(system: System, user: BankUser, since: datetime) -> dict[int, set[int]]:
    """What the sandbox's finAPI imported after ``since``, per account (the truth the counts are checked against)."""
    ledger = system.sandbox.world.ledger
    accounts = system.sandbox.world.connection(user.connection)["accountIds"]
    found: dict[int, set[int]] = {a: set() for a in accounts}
    for row in ledger.rows(accounts):
        if row.imported_at > since:
            found[row.account_id].add(row.id)
    return found


def accounts_of(record: UpdateRecord) -> dict[int, AccountOutcome]:
    assert record.result is not None
    return {a.account_id: a for a in record.result.accounts}


def test_each_update_says_per_account_what_it_imported_and_the_balances(system: System) -> None:
    # Given a connection updated once
    user = system.new_user(download_seconds=4)
    first = sync(system, user)
    # When a day later it is updated again
    system.clock.advance(DAY)
    since = system.clock.now()
    second = sync(system, user)
    # Then each account's count is what finAPI imported in that update, and the balances follow on from the first
    truth = imported_by_finapi(system, user, since)
    now, before = accounts_of(second), accounts_of(first)
    assert {a: o.imported_transactions for a, o in now.items()} == {a: len(ids) for a, ids in truth.items()}
    assert all(o.removed_transactions is not None for o in now.values())
    for account_id, outcome in now.items():
        assert outcome.balance_before == before[account_id].balance
        assert outcome.balance == float(system.sandbox.world.ledger.balance(account_id))
        assert outcome.currency == "EUR"
    # And the event says the same
    event = system.events.of_type(UpdateSucceeded)[-1]
    assert event.update_id == second.update_id
    assert {a.account_id: (a.imported_transactions, a.balance_before, a.balance_after) for a in event.accounts} == {
        a: (o.imported_transactions, o.balance_before, o.balance) for a, o in now.items()
    }


def test_a_connections_first_update_counts_only_what_it_imported(system: System) -> None:
    # Given a connection imported into finAPI with weeks of history, never updated through us
    user = system.new_user(download_seconds=4)
    system.clock.advance(3 * DAY)
    since = system.clock.now()
    # When its first update runs
    done = sync(system, user)
    # Then the history is not "new"; what the update imported is, and the balance before is derived from it
    truth = imported_by_finapi(system, user, since)
    counts = {a: o.imported_transactions for a, o in accounts_of(done).items()}
    assert counts == {a: len(ids) for a, ids in truth.items()} and sum(c or 0 for c in counts.values()) > 0
    for account_id, outcome in accounts_of(done).items():
        added = sum(r.amount for r in system.sandbox.world.ledger.rows([account_id]) if r.id in truth[account_id])
        assert outcome.balance is not None and outcome.balance_before == round(outcome.balance - float(added), 2)


def test_several_updates_a_day_count_each_transaction_once(system: System) -> None:
    user = system.new_user(download_seconds=4)
    sync(system, user)
    system.clock.advance(600)  # the sandbox's clock runs on with the wall's: start safely after the last import
    start = system.clock.now()
    counted = 0
    for _ in range(4):
        system.clock.advance(3 * 3600)
        counted += sum(o.imported_transactions or 0 for o in accounts_of(sync(system, user)).values())
    assert counted == sum(len(ids) for ids in imported_by_finapi(system, user, start).values())


def test_after_a_long_gap_the_adjusting_entry_counts(system: System) -> None:
    # Given a connection not updated for 100 days (longer than finAPI's 89-day window)
    user = system.new_user(download_seconds=4)
    sync(system, user)
    system.clock.advance(100 * DAY)
    since = system.clock.now()
    # When it is updated
    done = sync(system, user)
    # Then every account was fixed with an adjusting entry, and it is among what the update brought
    truth = imported_by_finapi(system, user, since)
    ledger = system.sandbox.world.ledger
    for account_id, outcome in accounts_of(done).items():
        adjusting = [r for r in ledger.rows([account_id]) if r.is_adjusting_entry and r.id in truth[account_id]]
        assert outcome.status == "UPDATED_FIXED" and len(adjusting) == 1
        assert outcome.imported_transactions == len(truth[account_id])


def test_new_accounts_bring_their_history_and_have_no_balance_before(system: System) -> None:
    user = system.new_user(download_seconds=4, imported_account_count=2)
    sync(system, user)
    system.clock.advance(DAY)
    done = sync(system, user, UpdateOptions(import_new_accounts=True, account_types=(AccountType.SAVINGS,)))
    new = [o for o in accounts_of(done).values() if o.new_account]
    assert len(new) == 1 and new[0].balance_before is None
    assert new[0].imported_transactions == system.sandbox.world.ledger.count(new[0].account_id) > 0


def test_when_finapi_cannot_be_read_the_update_succeeds_and_the_next_one_counts_the_rest(system: System) -> None:
    user = system.new_user(download_seconds=4)
    sync(system, user)
    system.clock.advance(DAY)
    since = system.clock.now()
    # Given finAPI's transaction search failing during the next update
    system.sandbox.world.add_fault(method="GET", path="/transactions", status=500, times=3)
    missed = sync(system, user)
    assert all(o.imported_transactions is None for o in accounts_of(missed).values())
    # When the update after it runs
    system.clock.advance(DAY)
    later = sync(system, user)
    # Then it brings what both imported, each transaction once
    truth = imported_by_finapi(system, user, since)
    assert {a: o.imported_transactions for a, o in accounts_of(later).items()} == {a: len(i) for a, i in truth.items()}


def test_a_repeated_look_says_the_same_and_counts_nothing_twice(system: System) -> None:
    # Given an update whose success was recorded
    user = system.new_user(download_seconds=4)
    sync(system, user)
    system.clock.advance(DAY)
    done = sync(system, user)
    state = system.change_log.state(user.owner_id, user.connection)
    assert state is not None and state.last_update_id == done.update_id
    # When the same look's summary runs again (a duplicated look message, a retry after a crash)
    assert done.result is not None
    bare = done.result.model_copy(
        update={"accounts": tuple(a.model_copy(update={"imported_transactions": None}) for a in done.result.accounts)}
    )
    again = system.use_cases.what_changed().summarise(done, bare, system.clock.now())
    # Then it says the same, and the change log did not move
    assert again.accounts == done.result.accounts
    assert system.change_log.state(user.owner_id, user.connection) == state
