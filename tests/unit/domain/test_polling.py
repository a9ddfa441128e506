from datetime import UTC, datetime, timedelta

from bankupdate.domain.errors import BankRejected, DownloadFailed, UpdateTimedOut
from bankupdate.domain.polling import (
    BankResultSnapshot,
    ConnectionSnapshot,
    InterfaceSnapshot,
    PollDecision,
    PollVerdict,
    all_accounts_failed,
    decide_poll,
)

T0 = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)


def snapshot(
    status: str, result: str | None = "OK", at: datetime = T0 + timedelta(seconds=10), **kw: object
) -> ConnectionSnapshot:
    manual = BankResultSnapshot(result=result, timestamp=at, error_message="PIN falsch") if result else None
    return ConnectionSnapshot(
        connection_id=1,
        update_status=status,
        interfaces=(InterfaceSnapshot(interface="XS2A", last_manual_update=manual),),
        **kw,  # type: ignore[arg-type]
    )


def decide(
    snap: ConnectionSnapshot, now: datetime = T0 + timedelta(seconds=20), categorize: bool = False
) -> PollDecision:
    return decide_poll(
        snap,
        interface="XS2A",
        triggered_at=T0,
        deadline_at=T0 + timedelta(minutes=15),
        now=now,
        wait_for_categorization=categorize,
    )


def test_in_progress_waits() -> None:
    # Given finAPI still downloading
    # When the poll decides
    decision = decide(snapshot("IN_PROGRESS"))
    # Then the loop waits (how long is the PollSchedule's business)
    assert decision.verdict is PollVerdict.WAIT
    assert decision.error is None


def test_ready_with_fresh_ok_result_succeeds() -> None:
    decision = decide(snapshot("READY"))
    assert decision.verdict is PollVerdict.SUCCEEDED
    assert decision.bank_result is not None and decision.bank_result.result == "OK"


def test_ready_with_bank_rejection_fails_with_bank_message() -> None:
    # Given the bank rejected the login during the download
    decision = decide(snapshot("READY", result="BANK_SERVER_REJECTION"))
    # Then the update fails, needs the user, and shows the bank's message
    assert decision.verdict is PollVerdict.FAILED
    assert isinstance(decision.error, BankRejected)
    assert decision.error.user_message == "PIN falsch"
    assert decision.error.user_action_required


def test_ready_with_internal_error_is_a_retryable_download_failure() -> None:
    decision = decide(snapshot("READY", result="INTERNAL_SERVER_ERROR"))
    assert isinstance(decision.error, DownloadFailed)
    assert decision.error.retryable


def test_ready_without_any_result_fails() -> None:
    decision = decide(snapshot("READY", result=None))
    assert isinstance(decision.error, DownloadFailed)


def test_categorization_is_awaited_only_when_asked() -> None:
    # Given the download is done but categories are pending
    snap = snapshot("READY", categorization_status="PENDING")
    # Then a caller who wants categories waits, any other succeeds now
    assert decide(snap, categorize=True).verdict is PollVerdict.WAIT
    assert decide(snap, categorize=False).verdict is PollVerdict.SUCCEEDED
    assert decide(snapshot("READY", categorization_status="READY"), categorize=True).verdict is PollVerdict.SUCCEEDED


def test_failure_is_not_hidden_behind_pending_categorization() -> None:
    snap = snapshot("READY", result="BANK_SERVER_REJECTION", categorization_status="PENDING")
    assert decide(snap, categorize=True).verdict is PollVerdict.FAILED


def test_deadline_turns_a_running_update_into_timed_out() -> None:
    decision = decide(snapshot("IN_PROGRESS"), now=T0 + timedelta(minutes=16))
    assert isinstance(decision.error, UpdateTimedOut)


def test_a_finished_update_after_the_deadline_still_succeeds() -> None:
    # Given the download ended, and we only poll after the deadline
    decision = decide(snapshot("READY"), now=T0 + timedelta(minutes=16))
    # Then the real outcome counts, not the clock
    assert decision.verdict is PollVerdict.SUCCEEDED


def test_all_accounts_failed_needs_at_least_one_account() -> None:
    assert all_accounts_failed(["DOWNLOAD_FAILED", "DOWNLOAD_FAILED"])
    assert not all_accounts_failed(["DOWNLOAD_FAILED", "UPDATED"])
    assert not all_accounts_failed([])
