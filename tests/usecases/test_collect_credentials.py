"""CollectCredentials: each kind of challenge the bank asks, answered through our API, and every way an answer is
refused before or after it reaches finAPI; and how answers move the workflow's wait for the user (AwaitUser): a new
round keeps it waiting, a download that starts resumes it (then the workflow polls)."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest
from pydantic import SecretStr

from bankupdate.contract import WaitingTask
from bankupdate.domain.errors import (
    AnswerTooEarly,
    AuthenticationExpired,
    BankRejected,
    ChallengeMismatch,
    CredentialsRequired,
    NotFound,
    UpstreamUnavailable,
)
from bankupdate.domain.model import ChallengeStatus, UpdateOptions, UpdateRecord, UpdateStatus
from tests.usecases.system import DEMO, NO_SCA, TAN, BankUser, System

SMS_TAN, CHIP_TAN_OPTICAL, PHOTO_TAN, DECOUPLED = "901", "903", "904", "905"


def waiting_for_procedure(system: System) -> tuple[BankUser, UpdateRecord]:
    """A user-present update whose bank asks for a two-step procedure, its workflow waiting for the user."""
    user = system.new_user()
    started = system.trigger(user, credentials=DEMO)
    system.run(started.update_id)
    assert system.workflow.waiting(started.update_id) is WaitingTask.USER
    return user, system.record(started.update_id)


def test_procedure_then_tan_then_the_download(system: System) -> None:
    # Given the bank asks for a two-step procedure, and the workflow waits for the user
    user, update = waiting_for_procedure(system)
    waiting = system.workflow.token_of(update.update_id)
    # When the user picks smsTAN
    chosen = system.answer(user, update.update_id, two_step_procedure_id=SMS_TAN)
    # Then the bank asks for the TAN, in a new round, and the same wait goes on, its patience renewed (a sign of life
    # while finAPI was asked, and one for the new round)
    assert chosen.status is UpdateStatus.AUTHENTICATION_REQUIRED and chosen.auth_round == 2
    assert chosen.challenge is not None and chosen.challenge.status is ChallengeStatus.CHALLENGE_RESPONSE_REQUIRED
    assert chosen.challenge.previous_answer_rejected is False
    assert system.workflow.keep_alives == [waiting, waiting]
    assert system.workflow.token_of(update.update_id) == waiting and system.workflow.resumes == []
    # When the user enters the TAN
    answered = system.answer(user, update.update_id, challenge_response=SecretStr(TAN))
    # Then the download runs and the wait for the user is over: the workflow polls (the API answered at once)
    assert answered.status is UpdateStatus.IN_PROGRESS and answered.challenge is None
    assert system.workflow.resumes == [waiting] and system.workflow.waiting(update.update_id) is WaitingTask.POLL
    system.run(update.update_id)
    assert system.record(update.update_id).status is UpdateStatus.SUCCEEDED
    assert not system.workflow.is_open(update.update_id)
    assert system.workflow.executions[update.update_id].states == ["Poll", "AwaitUser", "Poll"]


def test_an_answer_that_comes_before_the_workflow_parks_its_wait_ends_that_wait_at_once(system: System) -> None:
    # Given an update whose poll loop handed it to its user, and whose AwaitUser task has not parked its token yet
    user = system.new_user()
    started = system.trigger(user, credentials=DEMO)
    loop = system.workflow.take_loop(started.update_id)
    assert loop is not None
    system.run_loop(loop)
    task = system.workflow.task_of(started.update_id)
    assert (task.state, task.parked) == ("AwaitUser", False)
    # When the user answers both rounds first (nothing to resume: no token for the wait is parked yet)
    system.answer(user, started.update_id, two_step_procedure_id=SMS_TAN)
    assert system.answer(user, started.update_id, challenge_response=SecretStr(TAN)).status is UpdateStatus.IN_PROGRESS
    assert system.workflow.resumes == []
    # And then the wait's ParkTaskToken runs
    system.run(started.update_id)
    # Then it found the update moved on and ended the wait at once: the workflow polled the download to its end
    assert system.workflow.resumes == [task.token]
    assert system.record(started.update_id).status is UpdateStatus.SUCCEEDED
    assert system.workflow.executions[started.update_id].states == ["Poll", "AwaitUser", "Poll"]


@pytest.mark.parametrize(
    ("procedure", "shown"),
    [(PHOTO_TAN, "photo_tan_data"), (CHIP_TAN_OPTICAL, "optical_data")],
)
def test_a_tan_procedure_with_a_picture_shows_it(system: System, procedure: str, shown: str) -> None:
    user, update = waiting_for_procedure(system)
    chosen = system.answer(user, update.update_id, two_step_procedure_id=procedure)
    assert chosen.challenge is not None and chosen.challenge.status is ChallengeStatus.CHALLENGE_RESPONSE_REQUIRED
    assert getattr(chosen.challenge, shown)


def test_a_wrong_tan_opens_a_new_round_that_says_the_answer_was_refused(system: System) -> None:
    # Given the bank asks for a TAN
    user, update = waiting_for_procedure(system)
    system.answer(user, update.update_id, two_step_procedure_id=SMS_TAN)
    # When the user types a wrong one
    wrong = system.answer(user, update.update_id, challenge_response=SecretStr("000000"))
    # Then the bank asks again; the app can tell the last answer was refused
    assert wrong.status is UpdateStatus.AUTHENTICATION_REQUIRED and wrong.auth_round == 3
    assert wrong.challenge is not None and wrong.challenge.previous_answer_rejected is True
    # And the right TAN goes through
    assert system.answer(user, update.update_id, challenge_response=SecretStr(TAN)).status is UpdateStatus.IN_PROGRESS


def test_too_many_wrong_tans_fail_the_update_with_the_banks_refusal(system: System) -> None:
    # Given the bank refuses after its third wrong TAN
    user, update = waiting_for_procedure(system)
    system.answer(user, update.update_id, two_step_procedure_id=SMS_TAN)
    for _ in range(system.sandbox.config.max_tan_attempts - 1):
        system.answer(user, update.update_id, challenge_response=SecretStr("000000"))
    # When the last wrong TAN comes
    with pytest.raises(BankRejected) as refused:
        system.answer(user, update.update_id, challenge_response=SecretStr("000000"))
    # Then the update failed, naming itself, and the workflow's wait for the user ended with it
    assert refused.value.details["updateId"] == update.update_id
    assert system.record(update.update_id).status is UpdateStatus.FAILED
    assert system.workflow.releases[-1][1].status is UpdateStatus.FAILED
    # And the Poll task that follows ends the execution with that status, without asking finAPI
    calls = len(system.sandbox.world.calls)
    system.run(update.update_id)
    assert not system.workflow.is_open(update.update_id) and len(system.sandbox.world.calls) == calls
    execution = system.workflow.executions[update.update_id]
    assert execution.states == ["Poll", "AwaitUser", "Poll"]
    assert execution.output is not None and execution.output.status is UpdateStatus.FAILED


def test_a_decoupled_confirmation_is_paced_as_finapi_asks(system: System) -> None:
    # Given the user picked the decoupled procedure
    user, update = waiting_for_procedure(system)
    chosen = system.answer(user, update.update_id, two_step_procedure_id=DECOUPLED)
    assert chosen.challenge is not None and chosen.challenge.status is ChallengeStatus.DECOUPLED_AUTH_REQUIRED
    # When the app confirms, and at once again
    pending = system.answer(user, update.update_id, decoupled_callback=True)
    assert pending.challenge is not None and pending.challenge.status is ChallengeStatus.DECOUPLED_AUTH_IN_PROGRESS
    calls = len(system.update_calls(update.connection_id))
    with pytest.raises(AnswerTooEarly) as early:
        system.answer(user, update.update_id, decoupled_callback=True)
    # Then the second is told when to ask again, without reaching finAPI
    wait = early.value.details["retryAfterSeconds"]
    assert 1 <= wait <= system.settings.decoupled_min_interval_seconds
    assert len(system.update_calls(update.connection_id)) == calls
    # And asking at that pace, the bank's approval arrives and the download runs
    statuses = []
    for _ in range(5):
        system.clock.advance(system.settings.decoupled_min_interval_seconds)
        record = system.answer(user, update.update_id, decoupled_callback=True)
        statuses.append(record.status)
        if record.status is not UpdateStatus.AUTHENTICATION_REQUIRED:
            break
        assert record.challenge is not None and record.challenge.previous_answer_rejected is False
    assert statuses[-1] is UpdateStatus.IN_PROGRESS


def test_a_redirect_bank_takes_the_query_the_bank_sent_the_user_back_with(system: System) -> None:
    # Given a redirect bank and a connection without consent
    user = system.new_user("DEMO0002", consent_expires_at=None)
    started = system.trigger(user, options=UpdateOptions(redirect_url="https://app.example.com/back"))
    system.run(started.update_id)
    assert started.challenge is not None and started.challenge.status is ChallengeStatus.REDIRECT_REQUIRED
    assert started.challenge.redirect_url is not None
    # When the user authorizes at the bank, which sends them back to the app
    back = httpx.get(started.challenge.redirect_url, follow_redirects=False).headers["location"]
    answered = system.answer(user, started.update_id, redirect_callback=SecretStr(back))
    # Then the download runs to success
    assert answered.status is UpdateStatus.IN_PROGRESS
    system.run(started.update_id)
    assert system.record(started.update_id).status is UpdateStatus.SUCCEEDED


def test_credentials_sent_when_asked_continue_to_the_banks_next_question(system: System) -> None:
    # Given an update asking for the login credentials (no consent, no stored PIN)
    user = system.new_user(consent_expires_at=None)
    started = system.trigger(user)
    system.run(started.update_id)
    # When the user sends them
    answered = system.answer(user, started.update_id, login_credentials=DEMO)
    # Then the bank goes on with its SCA, and the workflow keeps waiting for the user
    assert answered.challenge is not None and answered.challenge.status is ChallengeStatus.TWO_STEP_PROCEDURE_REQUIRED
    assert system.workflow.waiting(started.update_id) is WaitingTask.USER and system.workflow.resumes == []


def test_credentials_without_sca_start_the_download(system: System) -> None:
    user = system.new_user(consent_expires_at=None)
    started = system.trigger(user)
    assert system.answer(user, started.update_id, login_credentials=NO_SCA).status is UpdateStatus.IN_PROGRESS


def test_an_answer_after_the_window_closed_is_refused_without_reaching_finapi(system: System) -> None:
    # Given an update whose authentication window has passed
    user, update = waiting_for_procedure(system)
    system.clock.advance(system.settings.auth_window_seconds)
    calls = len(system.update_calls(update.connection_id))
    # When the user answers
    with pytest.raises(AuthenticationExpired):
        system.answer(user, update.update_id, two_step_procedure_id=SMS_TAN)
    # Then finAPI was not asked
    assert len(system.update_calls(update.connection_id)) == calls


def test_a_duplicate_answer_to_a_round_being_answered_is_turned_away(system: System) -> None:
    # Given an answer to round 1 on its way to finAPI (it claimed the round)
    user, update = waiting_for_procedure(system)
    assert system.updates.claim_round(update.update_id, auth_round=1, now=system.clock.now(), lease=timedelta(60))
    calls = len(system.update_calls(update.connection_id))
    # When the same answer comes again (a double tap)
    with pytest.raises(ChallengeMismatch) as refused:
        system.answer(user, update.update_id, two_step_procedure_id=SMS_TAN)
    # Then it is turned away without reaching finAPI
    assert refused.value.details == {"authRound": 1}
    assert len(system.update_calls(update.connection_id)) == calls


def test_an_answer_that_does_not_fit_the_challenge_is_refused_and_the_round_stays_open(system: System) -> None:
    user, update = waiting_for_procedure(system)
    with pytest.raises(ChallengeMismatch):
        system.answer(user, update.update_id, challenge_response=SecretStr(TAN))
    with pytest.raises(ChallengeMismatch):
        system.answer(user, update.update_id, two_step_procedure_id="999")
    assert system.updates.claimed_round(update.update_id) is None
    assert system.answer(user, update.update_id, two_step_procedure_id=SMS_TAN).auth_round == 2


def test_an_update_that_waits_for_nobody_takes_no_answer(system: System) -> None:
    user = system.new_user()
    started = system.trigger(user, credentials=NO_SCA)
    with pytest.raises(ChallengeMismatch) as refused:
        system.answer(user, started.update_id, challenge_response=SecretStr(TAN))
    assert refused.value.details == {"status": "IN_PROGRESS"}


def test_someone_elses_update_does_not_exist(system: System) -> None:
    owner, update = waiting_for_procedure(system)
    stranger = system.new_user()
    with pytest.raises(NotFound):
        system.answer(stranger, update.update_id, two_step_procedure_id=SMS_TAN)
    assert system.updates.claimed_round(update.update_id) is None
    assert owner.owner_id != stranger.owner_id


def test_finapi_failing_with_5xx_lets_the_same_answer_be_sent_again(system: System) -> None:
    # Given finAPI failing the answer with 500 once
    user, update = waiting_for_procedure(system)
    system.sandbox.world.add_fault(path="/bankConnections/update", status=500, times=1)
    # When the user answers
    with pytest.raises(UpstreamUnavailable):
        system.answer(user, update.update_id, two_step_procedure_id=SMS_TAN)
    # Then the update still waits, the round is free again, and the same answer goes through
    assert system.record(update.update_id).status is UpdateStatus.AUTHENTICATION_REQUIRED
    assert system.updates.claimed_round(update.update_id) is None
    assert system.answer(user, update.update_id, two_step_procedure_id=SMS_TAN).auth_round == 2


def test_an_answer_whose_reply_got_lost_is_taken_as_a_download_the_polls_confirm(system: System) -> None:
    # Given a TAN round, and finAPI's reply to the TAN lost on its way back
    user, update = waiting_for_procedure(system)
    system.answer(user, update.update_id, two_step_procedure_id=SMS_TAN)
    system.sandbox.world.add_fault(path="/bankConnections/update", drop=True, when="after", times=1)
    # When the user sends the TAN
    answered = system.answer(user, update.update_id, challenge_response=SecretStr(TAN))
    # Then the update runs unconfirmed, and the polls find finAPI's fresh result
    assert answered.status is UpdateStatus.IN_PROGRESS and answered.start_confirmed is False
    system.run(update.update_id)
    assert system.record(update.update_id).status is UpdateStatus.SUCCEEDED


def test_credentials_finapi_finds_incomplete_can_be_completed(system: System) -> None:
    # Given an update asking for credentials without naming the fields (finAPI could not be asked which)
    user = system.new_user(consent_expires_at=None)
    system.use_cases.sync_connections()(owner_id=user.owner_id)
    system.sandbox.world.add_fault(method="GET", path=f"/bankConnections/{user.connection}", status=500, times=3)
    started = system.trigger(user)
    assert started.challenge is not None and started.challenge.credential_labels == ()
    # When the user sends only part of them
    with pytest.raises(CredentialsRequired):
        system.answer(user, started.update_id, login_credentials=DEMO[:1])
    # Then the update still asks, and the complete credentials go through
    assert system.record(started.update_id).status is UpdateStatus.AUTHENTICATION_REQUIRED
    assert system.answer(user, started.update_id, login_credentials=DEMO).auth_round == 2


@pytest.mark.parametrize("page", ["javascript:alert(document.domain)", "data:text/html,hi", "http://evil.example/"])
def test_a_bank_page_that_is_no_https_link_never_reaches_the_user(system: System, page: str) -> None:
    # Given a redirect bank whose 510 names a hostile address as its page
    user = system.new_user("DEMO0002", consent_expires_at=None, bank_page_url=page)
    # When the update asks the user to go to the bank
    started = system.trigger(user, options=UpdateOptions(redirect_url="https://app.example.com/back"))
    # Then the challenge is there, without the address: no record, event or answer carries it as a link
    assert started.challenge is not None and started.challenge.status is ChallengeStatus.REDIRECT_REQUIRED
    assert started.challenge.redirect_url is None
    assert page not in system.record(started.update_id).model_dump_json()
