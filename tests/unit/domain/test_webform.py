"""Where a Web Form 2.0 background update stands, from finAPI's task and web form (domain.webform, no I/O)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bankupdate.domain.model import ChallengeStatus
from bankupdate.domain.polling import BankResultSnapshot, ConnectionSnapshot, InterfaceSnapshot
from bankupdate.domain.webform import (
    TaskSnapshot,
    TaskVerdict,
    WebFormSnapshot,
    decide_task,
    error_for_code,
    quoting_the_bank,
)

NOW = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)
DEADLINE = NOW + timedelta(minutes=15)


def form(status: str, *, expires_in: float = 600, error_code: str | None = None) -> WebFormSnapshot:
    return WebFormSnapshot(
        form_id="f1",
        url="https://webform.example/wf/f1",
        status=status,
        expires_at=NOW + timedelta(seconds=expires_in),
        error_code=error_code,
    )


@pytest.mark.parametrize("status", ["NOT_YET_STARTED", "IN_PROGRESS"])
def test_a_task_at_work_is_running(status: str) -> None:
    task = TaskSnapshot(task_id="t", status=status)
    assert decide_task(task, deadline_at=DEADLINE, now=NOW, waiting_for_user=False).verdict is TaskVerdict.RUNNING


def test_a_task_still_running_at_the_deadline_times_out() -> None:
    decision = decide_task(
        TaskSnapshot(task_id="t", status="IN_PROGRESS"), deadline_at=DEADLINE, now=DEADLINE, waiting_for_user=False
    )
    assert decision.verdict is TaskVerdict.FAILED and decision.error is not None
    assert decision.error.code == "TIMED_OUT"


@pytest.mark.parametrize("status", ["NOT_YET_OPENED", "IN_PROGRESS"])
def test_an_open_web_form_asks_the_user_with_its_link_and_expiry(status: str) -> None:
    task = TaskSnapshot(task_id="t", status="WEB_FORM_REQUIRED", web_form=form(status))
    decision = decide_task(task, deadline_at=DEADLINE, now=NOW, waiting_for_user=False)
    assert decision.verdict is TaskVerdict.NEEDS_USER and decision.challenge is not None
    assert decision.challenge.status is ChallengeStatus.WEB_FORM_REQUIRED
    assert decision.challenge.web_form_url == "https://webform.example/wf/f1"
    assert decision.challenge.web_form_expires_at == NOW + timedelta(seconds=600)


def test_the_users_time_in_the_form_is_bounded_by_the_form_not_the_download_deadline() -> None:
    task = TaskSnapshot(task_id="t", status="WEB_FORM_REQUIRED", web_form=form("IN_PROGRESS", expires_in=3600))
    decision = decide_task(task, deadline_at=DEADLINE, now=DEADLINE + timedelta(minutes=1), waiting_for_user=True)
    assert decision.verdict is TaskVerdict.NEEDS_USER


def test_a_completed_form_with_the_task_still_going_is_running() -> None:
    task = TaskSnapshot(task_id="t", status="WEB_FORM_REQUIRED", web_form=form("COMPLETED"))
    assert decide_task(task, deadline_at=DEADLINE, now=NOW, waiting_for_user=True).verdict is TaskVerdict.RUNNING


def test_a_completed_task_is_completed() -> None:
    task = TaskSnapshot(task_id="t", status="COMPLETED")
    assert decide_task(task, deadline_at=DEADLINE, now=NOW, waiting_for_user=False).verdict is TaskVerdict.COMPLETED


@pytest.mark.parametrize(
    ("task_status", "form_status", "code"),
    [
        ("WEB_FORM_REQUIRED", "ABORTED", "WEB_FORM_ABORTED"),
        ("COMPLETED_WITH_ERROR", "ABORTED", "WEB_FORM_ABORTED"),
        ("WEB_FORM_REQUIRED", "EXPIRED", "AUTHENTICATION_EXPIRED"),
        ("COMPLETED_WITH_ERROR", "EXPIRED", "AUTHENTICATION_EXPIRED"),
    ],
)
def test_a_cancelled_or_expired_form_ends_the_update_with_its_remedy(
    task_status: str, form_status: str, code: str
) -> None:
    task = TaskSnapshot(task_id="t", status=task_status, web_form=form(form_status))
    decision = decide_task(task, deadline_at=DEADLINE, now=NOW, waiting_for_user=True)
    assert decision.verdict is TaskVerdict.FAILED and decision.error is not None
    assert decision.error.code == code and decision.error.user_message


def test_an_open_form_past_its_expiry_waits_for_finapi_to_say_so() -> None:
    # Given a form past its expiresAt that the user is still in (or whose download runs), then it is not ours to end
    task = TaskSnapshot(task_id="t", status="WEB_FORM_REQUIRED", web_form=form("IN_PROGRESS", expires_in=-1))
    assert decide_task(task, deadline_at=DEADLINE, now=NOW, waiting_for_user=True).verdict is TaskVerdict.NEEDS_USER


@pytest.mark.parametrize(
    ("error_code", "ours", "retryable"),
    [
        ("BANK_SERVER_REJECTION", "BANK_REJECTED", False),
        ("INVALID_TOKEN", "FINAPI_AUTHENTICATION_FAILED", False),
        ("UNEXPECTED_ACCESS_RESPONSE", "UPSTREAM_UNAVAILABLE", True),
        ("INTERNAL_ERROR", "UPSTREAM_UNAVAILABLE", True),
        ("SOMETHING_NEW", "UPSTREAM_UNAVAILABLE", True),
    ],
)
def test_each_task_error_code_has_its_own_outcome(error_code: str, ours: str, retryable: bool) -> None:
    task = TaskSnapshot(task_id="t", status="COMPLETED_WITH_ERROR", error_code=error_code)
    decision = decide_task(task, deadline_at=DEADLINE, now=NOW, waiting_for_user=False)
    assert decision.verdict is TaskVerdict.FAILED and decision.error is not None
    assert (decision.error.code, decision.error.retryable) == (ours, retryable)
    assert decision.error.upstream_code == error_code


def test_a_bank_rejection_in_the_form_points_the_user_back_to_it() -> None:
    assert error_for_code("BANK_SERVER_REJECTION", action_url="https://wf").action_url == "https://wf"


def _connection(*results: BankResultSnapshot) -> ConnectionSnapshot:
    return ConnectionSnapshot(
        connection_id=1,
        update_status="READY",
        interfaces=tuple(InterfaceSnapshot(interface="XS2A", last_manual_update=r) for r in results),
    )


def _rejection(message: str | None, at: datetime) -> BankResultSnapshot:
    return BankResultSnapshot(
        result="BANK_SERVER_REJECTION", error_message=message, error_type="BUSINESS", timestamp=at
    )


def test_a_rejection_quotes_the_banks_words_written_since_the_update_started() -> None:
    # Given finAPI's task ended BANK_SERVER_REJECTION, and Access holds the bank's message of that login
    rejected = error_for_code("BANK_SERVER_REJECTION", action_url="https://webform.example/wf/f1")
    connection = _connection(_rejection("Die TAN war mehrfach falsch.", NOW + timedelta(seconds=30)))
    # When the error is completed from the connection
    quoted = quoting_the_bank(rejected, connection, since=NOW)
    # Then the user reads the bank's words, and keeps the form's link
    assert (quoted.code, quoted.user_message, quoted.action_url) == (
        "BANK_REJECTED",
        "Die TAN war mehrfach falsch.",
        "https://webform.example/wf/f1",
    )


@pytest.mark.parametrize(
    "results",
    [
        (),  # no result at all
        (_rejection("Alte Meldung", NOW - timedelta(hours=1)),),  # an older login's message: not this update's
        (_rejection(None, NOW + timedelta(seconds=30)),),  # the bank said nothing
        (BankResultSnapshot(result="OK", timestamp=NOW + timedelta(seconds=30)),),
    ],
)
def test_without_the_banks_words_of_this_update_the_rejection_stays_as_it_was(
    results: tuple[BankResultSnapshot, ...],
) -> None:
    rejected = error_for_code("BANK_SERVER_REJECTION")
    assert quoting_the_bank(rejected, _connection(*results), since=NOW) is rejected


def test_other_errors_are_not_touched() -> None:
    aborted = error_for_code("INTERRUPTED")
    connection = _connection(_rejection("Die TAN war mehrfach falsch.", NOW + timedelta(seconds=30)))
    assert quoting_the_bank(aborted, connection, since=NOW) is aborted
