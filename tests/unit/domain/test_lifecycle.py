"""Every transition of an update's life, and the ones that must be refused (domain.lifecycle, no I/O)."""

from __future__ import annotations

from dataclasses import fields
from datetime import UTC, datetime, timedelta

import pytest

from bankupdate.domain import lifecycle
from bankupdate.domain.errors import BankRejected, UpstreamUnavailable
from bankupdate.domain.lifecycle import IllegalTransition, Next, Step, Timing
from bankupdate.domain.model import (
    AccountOutcome,
    Challenge,
    ChallengeStatus,
    Integration,
    UpdateOptions,
    UpdateRecord,
    UpdateResult,
    UpdateStatus,
)

T0 = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)
TIMING = Timing(deadline_seconds=900, auth_window_seconds=600, max_auth_rounds=3)
TAN = Challenge(status=ChallengeStatus.CHALLENGE_RESPONSE_REQUIRED, hash="h1")
FORM = Challenge(
    status=ChallengeStatus.WEB_FORM_REQUIRED, web_form_url="https://wf/1", web_form_expires_at=T0 + timedelta(minutes=5)
)


def user_present() -> UpdateRecord:
    return lifecycle.new_user_present(
        update_id="u" * 32,
        owner_id="user-1",
        connection_id=7,
        options=UpdateOptions(),
        integration=Integration.ACCESS,
        known_account_ids=(1, 2),
        execution_arn="arn:aws:states:eu-central-1:1:execution:m:u",
        now=T0,
        timing=TIMING,
    )


def unattended() -> UpdateRecord:
    return lifecycle.new_unattended(
        update_id="s" * 32,
        owner_id="user-1",
        connection_id=7,
        integration=Integration.ACCESS,
        known_account_ids=(),
        execution_arn="arn",
        now=T0,
    )


def result(*statuses: str) -> UpdateResult:
    return UpdateResult(accounts=tuple(AccountOutcome(account_id=n, status=s) for n, s in enumerate(statuses)))


def test_a_user_present_update_starts_pending_with_finapi_called_and_a_deadline() -> None:
    record = user_present()
    assert record.status is UpdateStatus.PENDING
    assert record.finapi_called_at == T0 and record.deadline_at == T0 + timedelta(seconds=900)


def test_accepted_starts_the_download_and_the_deadline_counts_from_then() -> None:
    # Given a user who spent 2 minutes on SCA
    waiting = lifecycle.needs_user(user_present(), TAN, T0, TIMING).record
    later = T0 + timedelta(minutes=2)
    # When finAPI accepts
    transition = lifecycle.accepted(waiting, later, TIMING)
    # Then the download runs, the challenge is gone, the workflow polls it next, and the deadline starts now
    assert transition.record.status is UpdateStatus.IN_PROGRESS
    assert transition.record.challenge is None and transition.record.auth_window_ends_at is None
    assert transition.step.next is Next.POLL
    assert transition.record.deadline_at == later + timedelta(seconds=900)


def test_an_unconfirmed_start_is_remembered() -> None:
    record = lifecycle.accepted(user_present(), T0, TIMING, confirmed=False, upstream_ref="task-1").record
    assert record.start_confirmed is False and record.upstream_ref == "task-1"


def test_needs_user_opens_a_round_with_a_window() -> None:
    transition = lifecycle.needs_user(user_present(), TAN, T0, TIMING)
    record = transition.record
    assert (record.status, record.auth_round, transition.step.next) == (
        UpdateStatus.AUTHENTICATION_REQUIRED,
        1,
        Next.AWAIT_USER,
    )
    assert record.auth_window_ends_at == T0 + timedelta(seconds=600)
    assert record.challenge is not None and record.challenge.previous_answer_rejected is False


def test_the_same_challenge_again_after_an_answer_means_the_answer_was_rejected() -> None:
    # Given a TAN round that the user answered
    answered = lifecycle.answered(lifecycle.needs_user(user_present(), TAN, T0, TIMING).record, T0)
    # When the bank asks for a TAN again
    again = lifecycle.needs_user(answered, TAN, T0, TIMING).record
    # Then the app can tell the answer was refused
    assert again.challenge is not None and again.challenge.previous_answer_rejected is True
    assert again.auth_round == 2


def test_decoupled_in_progress_repeats_are_not_rejections() -> None:
    pending = Challenge(status=ChallengeStatus.DECOUPLED_AUTH_IN_PROGRESS, hash="h")
    first = lifecycle.answered(lifecycle.needs_user(user_present(), pending, T0, TIMING).record, T0)
    again = lifecycle.needs_user(first, pending, T0, TIMING).record
    assert again.challenge is not None and again.challenge.previous_answer_rejected is False


def test_a_web_form_round_ends_when_the_form_expires_if_that_comes_first() -> None:
    record = lifecycle.needs_user(user_present(), FORM, T0, TIMING).record
    assert record.auth_window_ends_at == T0 + timedelta(minutes=5)


def test_too_many_rounds_fail_the_update() -> None:
    # Given an update that used up its rounds
    record = user_present()
    for _ in range(TIMING.max_auth_rounds):
        record = lifecycle.answered(lifecycle.needs_user(record, TAN, T0, TIMING).record, T0)
    # When the bank asks once more
    transition = lifecycle.needs_user(record, TAN, T0, TIMING)
    # Then the update fails instead of asking forever
    assert transition.step.next is Next.FINISH
    assert transition.record.error is not None and transition.record.error.code == "TOO_MANY_AUTHENTICATION_ROUNDS"


def test_an_unattended_update_never_waits_for_a_user_and_names_where_to_act() -> None:
    calling = lifecycle.calling_upstream(unattended(), T0, TIMING)
    transition = lifecycle.needs_user(calling, FORM, T0, TIMING)
    assert transition.step.next is Next.FINISH
    error = transition.record.error
    assert error is not None and error.code == "USER_ACTION_REQUIRED" and error.action_url == "https://wf/1"


def test_the_lifecycle_names_the_next_step_but_leaves_the_polls_timing_to_the_poll_loop() -> None:
    # Given the steps a transition can name: the user, a poll, the end (when the next poll comes is domain.backoff's)
    assert {step.value for step in Next} == {"AWAIT_USER", "POLL", "FINISH"}
    assert [f.name for f in fields(Step)] == ["next"]
    # Then a download that runs on is no transition at all: only a start (or restart) names a poll
    assert not hasattr(lifecycle, "still_running")
    waiting = lifecycle.needs_user(user_present(), TAN, T0, TIMING).record
    assert lifecycle.accepted(waiting, T0, TIMING).step == Step(Next.POLL)


def test_success_records_the_result_and_finishes() -> None:
    running = lifecycle.accepted(user_present(), T0, TIMING).record
    transition = lifecycle.succeeded(running, result("UPDATED", "DOWNLOAD_FAILED"), T0, polls=4)
    assert transition.step.next is Next.FINISH
    assert transition.record.error is None and transition.record.poll_count == 4
    finished = lifecycle.finish(transition.record, T0)
    assert finished.status is UpdateStatus.SUCCEEDED


def test_no_account_refreshed_is_a_failed_download() -> None:
    running = lifecycle.accepted(user_present(), T0, TIMING).record
    done = lifecycle.succeeded(running, result("DOWNLOAD_FAILED", "DOWNLOAD_FAILED"), T0).record
    finished = lifecycle.finish(done, T0)
    assert finished.status is UpdateStatus.FAILED and finished.error is not None
    assert finished.error.code == "DOWNLOAD_FAILED"


def test_a_failure_counts_the_polls_that_led_to_it() -> None:
    running = lifecycle.accepted(user_present(), T0, TIMING).record
    failed = lifecycle.fail(running, BankRejected("x").to_update_error(), T0, polls=7).record
    assert failed.poll_count == 7


def test_calling_finapi_for_a_scheduled_update_marks_the_moment_and_starts_its_deadline() -> None:
    # Given a scheduled update, recorded before anything is sent
    recorded = unattended()
    assert (recorded.finapi_called_at, recorded.deadline_at) == (None, None)
    # When its start claims the call to finAPI, a minute later
    later = T0 + timedelta(minutes=1)
    calling = lifecycle.calling_upstream(recorded, later, TIMING)
    # Then the record says finAPI is being called (no retry may call it again) and the deadline counts from now
    assert calling.status is UpdateStatus.PENDING and calling.finapi_called_at == later
    assert calling.deadline_at == later + timedelta(seconds=TIMING.deadline_seconds)


def test_the_first_error_is_the_one_the_user_sees() -> None:
    first = lifecycle.fail(user_present(), BankRejected("PIN wrong").to_update_error(), T0).record
    second = lifecycle.fail(first, UpstreamUnavailable("later").to_update_error(), T0).record
    assert second.error is not None and second.error.code == "BANK_REJECTED"


def test_an_expired_authentication_finishes_as_expired() -> None:
    from bankupdate.domain.errors import AuthenticationExpired

    waiting = lifecycle.needs_user(user_present(), TAN, T0, TIMING).record
    failed = lifecycle.fail(waiting, AuthenticationExpired("no answer").to_update_error(), T0).record
    finished = lifecycle.finish(failed, T0)
    assert finished.status is UpdateStatus.EXPIRED and finished.challenge is None


def test_finishing_without_an_outcome_is_a_failure_not_a_success() -> None:
    finished = lifecycle.finish(user_present(), T0)
    assert finished.status is UpdateStatus.FAILED and finished.error is not None


def test_the_answer_window_closes_at_its_end() -> None:
    waiting = lifecycle.needs_user(user_present(), TAN, T0, TIMING).record
    assert not lifecycle.window_closed(waiting, T0 + timedelta(seconds=599))
    assert lifecycle.window_closed(waiting, T0 + timedelta(seconds=600))


@pytest.mark.parametrize(
    "move",
    [
        lambda r: lifecycle.accepted(r, T0, TIMING),
        lambda r: lifecycle.needs_user(r, TAN, T0, TIMING),
        lambda r: lifecycle.fail(r, BankRejected("x").to_update_error(), T0),
        lambda r: lifecycle.finish(r, T0),
        lambda r: lifecycle.answered(r, T0),
        lambda r: lifecycle.succeeded(r, result("UPDATED"), T0),
        lambda r: lifecycle.calling_upstream(r, T0, TIMING),
    ],
)
def test_a_terminal_update_cannot_move(move: object) -> None:
    # Given an update that ended
    ended = lifecycle.finish(lifecycle.fail(user_present(), BankRejected("x").to_update_error(), T0).record, T0)
    # When anything tries to move it, then the lifecycle refuses
    with pytest.raises(IllegalTransition):
        move(ended)  # type: ignore[operator]


def test_only_a_waiting_update_takes_an_answer_and_only_a_running_one_a_result() -> None:
    with pytest.raises(IllegalTransition):
        lifecycle.answered(user_present(), T0)
    with pytest.raises(IllegalTransition):
        lifecycle.succeeded(user_present(), result("UPDATED"), T0)
    with pytest.raises(IllegalTransition):
        lifecycle.calling_upstream(lifecycle.accepted(user_present(), T0, TIMING).record, T0, TIMING)
