"""An update's Succeeded event stays far below EventBridge's 256 KB, even for a connection with 50 accounts: the event
carries counts and balances per account, never the transactions themselves (those come from the cursor route)."""

from __future__ import annotations

from datetime import UTC, datetime

from bankupdate.domain.events import UpdateFinished, UpdateSucceeded
from bankupdate.domain.model import AccountOutcome, UpdateMode, UpdateRecord, UpdateResult, UpdateStatus

EVENTBRIDGE_ENTRY_LIMIT = 256 * 1024
AT = datetime(2026, 11, 20, 9, 30, tzinfo=UTC)


def entry_size(source: str, event: UpdateFinished) -> int:
    """A PutEvents entry's size as EventBridge counts it: Source, DetailType and Detail in UTF-8 (and 14 bytes for a
    Time, which the adapter does not send; counted anyway)."""
    detail = event.model_dump_json(by_alias=True)
    return 14 + len(source.encode()) + len(event.detail_type.encode()) + len(detail.encode())


def test_a_succeeded_event_with_50_accounts_stays_far_below_the_limit() -> None:
    # Given an update of a connection with 50 accounts, every field at its longest plausible value
    accounts = tuple(
        AccountOutcome(
            account_id=2**62 + n,
            name="Gemeinschaftskonto Haushalt und Urlaub " + "x" * 40,
            iban=f"DE{n:02d}500105175407324931{n:04d}",
            account_type="Checking",
            status="UPDATED_FIXED",
            balance=-123456789.99,
            balance_before=987654321.01,
            currency="EUR",
            new_account=n % 2 == 0,
            imported_transactions=100_000,
            removed_transactions=1_000,
        )
        for n in range(50)
    )
    record = UpdateRecord(
        update_id="0f" * 16,
        owner_id="user-" + "a" * 120,
        connection_id=2**62,
        mode=UpdateMode.USER_PRESENT,
        status=UpdateStatus.SUCCEEDED,
        created_at=AT,
        updated_at=AT,
        result=UpdateResult(accounts=accounts, categorization_status="READY", finished_at=AT),
    )
    # When its event is made
    event = UpdateSucceeded.of(record)
    size = entry_size("finapi.bank-update", event)
    # Then it carries every account, and is under a tenth of EventBridge's limit
    assert len(event.accounts) == 50 and event.accounts[0].imported_transactions == 100_000
    assert size < EVENTBRIDGE_ENTRY_LIMIT / 10, size
