"""Which answer fits which challenge: the app must send exactly what the bank asked for, nothing else."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, SecretStr

from bankupdate.domain.errors import ChallengeMismatch
from bankupdate.domain.model import Challenge, ChallengeStatus


class Credential(BaseModel):
    model_config = ConfigDict(frozen=True)

    label: str
    value: SecretStr


class AuthenticationAnswer(BaseModel):
    model_config = ConfigDict(frozen=True)

    login_credentials: tuple[Credential, ...] | None = None
    challenge_response: SecretStr | None = None
    two_step_procedure_id: str | None = None
    redirect_callback: SecretStr | None = None
    decoupled_callback: bool | None = None
    store_secrets: bool | None = None

    def given_fields(self) -> set[str]:
        names = {
            "loginCredentials": self.login_credentials,
            "challengeResponse": self.challenge_response,
            "twoStepProcedureId": self.two_step_procedure_id,
            "redirectCallback": self.redirect_callback,
            "decoupledCallback": self.decoupled_callback,
        }
        return {name for name, value in names.items() if value is not None}


EXPECTED_FIELD: dict[ChallengeStatus, str | None] = {
    ChallengeStatus.CREDENTIALS_REQUIRED: "loginCredentials",
    ChallengeStatus.TWO_STEP_PROCEDURE_REQUIRED: "twoStepProcedureId",
    ChallengeStatus.CHALLENGE_RESPONSE_REQUIRED: "challengeResponse",
    ChallengeStatus.REDIRECT_REQUIRED: "redirectCallback",
    ChallengeStatus.DECOUPLED_AUTH_REQUIRED: "decoupledCallback",
    ChallengeStatus.DECOUPLED_AUTH_IN_PROGRESS: "decoupledCallback",
    ChallengeStatus.WEB_FORM_REQUIRED: None,  # answered in finAPI's web form, never through our API
}


def redirect_query(callback: str) -> str:
    """What finAPI wants as ``redirectCallback`` is the query string the bank appended to our redirect URL; apps
    often hand over the whole URL they were called back with, so take its query part."""
    text = callback.strip()
    if "://" in text and "?" in text:
        text = text.split("?", 1)[1]
    return text.split("#", 1)[0].lstrip("?")


def check_answer_fits(challenge: Challenge, answer: AuthenticationAnswer) -> None:
    expected = EXPECTED_FIELD[challenge.status]
    given = answer.given_fields()
    if expected is None:
        raise ChallengeMismatch(
            "the bank's form is completed at finAPI (authentication.webFormUrl), not through this API",
            details={"expected": None, "given": sorted(given), "status": challenge.status.value},
        )
    if given != {expected}:
        raise ChallengeMismatch(
            f"the bank asks for {challenge.status.value}: send exactly `{expected}`"
            + (f", not {sorted(given)}" if given else ""),
            details={"expected": expected, "given": sorted(given), "status": challenge.status.value},
        )
    if challenge.status is ChallengeStatus.TWO_STEP_PROCEDURE_REQUIRED:
        offered = {p.procedure_id for p in challenge.two_step_procedures}
        if answer.two_step_procedure_id not in offered:
            raise ChallengeMismatch(
                "twoStepProcedureId is not one of the procedures the bank offered",
                details={"expected": sorted(offered)},
            )
    if expected == "decoupledCallback" and answer.decoupled_callback is not True:
        raise ChallengeMismatch("decoupledCallback must be true once the user confirmed in the banking app")
    callback = answer.redirect_callback
    if expected == "redirectCallback" and callback is not None and not redirect_query(callback.get_secret_value()):
        raise ChallengeMismatch("redirectCallback must carry the query string the bank appended to the redirect")
    if challenge.status is ChallengeStatus.CREDENTIALS_REQUIRED and challenge.credential_labels:
        labels = {c.label for c in answer.login_credentials or ()}
        missing = sorted(set(challenge.credential_labels) - labels)
        if missing:
            raise ChallengeMismatch(
                f"loginCredentials must include {', '.join(missing)}",
                details={"expected": list(challenge.credential_labels), "missing": missing},
            )
