"""A new authentication round, as ``lifecycle.needs_user`` opens it after the user's answer."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bankupdate.domain import lifecycle
from bankupdate.domain.model import Challenge, ChallengeStatus, UpdateMode, UpdateRecord, UpdateStatus

NOW = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
TIMING = lifecycle.Timing(deadline_seconds=900, auth_window_seconds=600)


def waiting(status: ChallengeStatus) -> UpdateRecord:
    return UpdateRecord(
        update_id="0" * 32,
        owner_id="user-1",
        connection_id=1,
        mode=UpdateMode.USER_PRESENT,
        status=UpdateStatus.AUTHENTICATION_REQUIRED,
        challenge=Challenge(status=status, hash="h1"),
        auth_round=2,
        created_at=NOW,
        updated_at=NOW,
    )


def test_the_round_after_a_decoupled_confirmation_remembers_when_it_was_sent() -> None:
    # Given the user confirmed a decoupled approval just now
    answered = lifecycle.answered(waiting(ChallengeStatus.DECOUPLED_AUTH_REQUIRED), NOW)
    # When the bank says the approval is still in progress (a new round)
    later = NOW + timedelta(seconds=1)
    pending = Challenge(status=ChallengeStatus.DECOUPLED_AUTH_IN_PROGRESS, hash="h2")
    transition = lifecycle.needs_user(answered, pending, later, TIMING)
    # Then the new round keeps the moment of that confirmation (the next one is paced from it)
    assert transition.record.last_answer_at == NOW
    assert transition.record.auth_round == 3
    assert transition.record.challenge is not None and not transition.record.challenge.previous_answer_rejected


def test_the_same_question_again_after_an_answer_is_a_refusal() -> None:
    # Given the user sent a TAN
    answered = lifecycle.answered(waiting(ChallengeStatus.CHALLENGE_RESPONSE_REQUIRED), NOW)
    # When the bank asks for a TAN again
    again = Challenge(status=ChallengeStatus.CHALLENGE_RESPONSE_REQUIRED, hash="h2")
    transition = lifecycle.needs_user(answered, again, NOW, TIMING)
    # Then the new round says the last answer was refused
    assert transition.record.challenge is not None and transition.record.challenge.previous_answer_rejected
