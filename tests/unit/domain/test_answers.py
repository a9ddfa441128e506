import pytest
from pydantic import SecretStr

from bankupdate.domain.answers import AuthenticationAnswer, Credential, check_answer_fits
from bankupdate.domain.errors import ChallengeMismatch
from bankupdate.domain.model import Challenge, ChallengeStatus, TwoStepProcedureOption

PROCEDURES = (
    TwoStepProcedureOption(procedure_id="901", procedure_name="smsTAN"),
    TwoStepProcedureOption(procedure_id="905", procedure_name="Decoupled"),
)


def challenge(status: ChallengeStatus) -> Challenge:
    return Challenge(status=status, hash="h1", two_step_procedures=PROCEDURES)


@pytest.mark.parametrize(
    ("status", "answer"),
    [
        (ChallengeStatus.TWO_STEP_PROCEDURE_REQUIRED, AuthenticationAnswer(two_step_procedure_id="901")),
        (ChallengeStatus.CHALLENGE_RESPONSE_REQUIRED, AuthenticationAnswer(challenge_response=SecretStr("123456"))),
        (ChallengeStatus.REDIRECT_REQUIRED, AuthenticationAnswer(redirect_callback=SecretStr("state=a&code=b"))),
        (ChallengeStatus.DECOUPLED_AUTH_REQUIRED, AuthenticationAnswer(decoupled_callback=True)),
        (ChallengeStatus.DECOUPLED_AUTH_IN_PROGRESS, AuthenticationAnswer(decoupled_callback=True)),
        (
            ChallengeStatus.CREDENTIALS_REQUIRED,
            AuthenticationAnswer(login_credentials=(Credential(label="PIN", value=SecretStr("demo")),)),
        ),
    ],
)
def test_the_answer_each_status_asks_for_fits(status: ChallengeStatus, answer: AuthenticationAnswer) -> None:
    check_answer_fits(challenge(status), answer)  # Then no error


def test_a_tan_for_a_procedure_choice_is_refused_with_the_expected_field() -> None:
    with pytest.raises(ChallengeMismatch) as caught:
        check_answer_fits(
            challenge(ChallengeStatus.TWO_STEP_PROCEDURE_REQUIRED),
            AuthenticationAnswer(challenge_response=SecretStr("123456")),
        )
    assert caught.value.details["expected"] == "twoStepProcedureId"


def test_two_answers_at_once_are_refused() -> None:
    with pytest.raises(ChallengeMismatch):
        check_answer_fits(
            challenge(ChallengeStatus.CHALLENGE_RESPONSE_REQUIRED),
            AuthenticationAnswer(challenge_response=SecretStr("1"), decoupled_callback=True),
        )


def test_a_procedure_the_bank_did_not_offer_is_refused() -> None:
    with pytest.raises(ChallengeMismatch, match="offered"):
        check_answer_fits(
            challenge(ChallengeStatus.TWO_STEP_PROCEDURE_REQUIRED), AuthenticationAnswer(two_step_procedure_id="999")
        )


def test_decoupled_false_is_not_a_confirmation() -> None:
    with pytest.raises(ChallengeMismatch):
        check_answer_fits(
            challenge(ChallengeStatus.DECOUPLED_AUTH_REQUIRED), AuthenticationAnswer(decoupled_callback=False)
        )
