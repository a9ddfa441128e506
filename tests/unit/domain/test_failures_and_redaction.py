import json

import pytest

from bankupdate.contract import CatchFailure, error_from_failure
from bankupdate.domain.errors import (
    AuthenticationExpired,
    UpdateStalled,
    UpdateTimedOut,
    UpstreamUnavailable,
)
from bankupdate.domain.model import UpdateStatus
from bankupdate.domain.redaction import REDACTED, redact


def failure(error: str, cause: str = "") -> CatchFailure:
    return CatchFailure.model_validate({"Error": error, "Cause": cause})


@pytest.mark.parametrize("error", ["States.HeartbeatTimeout", "States.Timeout"])
def test_silence_while_the_user_is_asked_means_the_user_did_not_answer(error: str) -> None:
    # Given the workflow gave up while the update waited for the user, then the update expired
    assert isinstance(error_from_failure(failure(error), UpdateStatus.AUTHENTICATION_REQUIRED), AuthenticationExpired)


def test_silence_while_downloading_means_the_update_lost_track() -> None:
    # Given no sign of life came from the looks (a lost timer message), then the update stalled (retryable)
    error = error_from_failure(failure("States.HeartbeatTimeout"), UpdateStatus.IN_PROGRESS)
    assert isinstance(error, UpdateStalled) and error.retryable


def test_the_whole_update_running_out_of_time_is_a_timeout() -> None:
    assert isinstance(error_from_failure(failure("States.Timeout"), UpdateStatus.IN_PROGRESS), UpdateTimedOut)


@pytest.mark.parametrize("error", ["Sandbox.Timedout", "Lambda.Unknown", "Lambda.ServiceException", "KeyError"])
def test_a_dead_worker_is_a_stalled_update_naming_the_error(error: str) -> None:
    # Given the supervising Lambda failed past its retries (a timeout as AWS names it, or a crash)
    found = error_from_failure(failure(error, "boom"), UpdateStatus.IN_PROGRESS)
    # Then the update stalled, and the message says why
    assert isinstance(found, UpdateStalled) and error in found.message


def test_our_error_names_map_back_to_their_class_with_the_message() -> None:
    cause = json.dumps({"errorType": "UpstreamUnavailable", "errorMessage": "finAPI 503"})
    error = error_from_failure(failure("UpstreamUnavailable", cause), UpdateStatus.IN_PROGRESS)
    assert isinstance(error, UpstreamUnavailable)
    assert error.message == "finAPI 503"


def test_secrets_are_redacted_at_any_depth_and_any_spelling() -> None:
    # Given a log record with secrets nested under oddly cased keys
    record = {
        "body": {"loginCredentials": [{"label": "PIN", "value": "1234"}]},
        "Challenge-Response": "123456",
        "nested": [{"REDIRECT_CALLBACK": "state=x&code=y"}, {"taskToken": "tok"}],
        "headers": {"Authorization": "Bearer abc"},
        "message": "calling with Bearer abc.def",
        "updateId": "keep-me",
    }
    # When it is redacted
    clean = json.dumps(redact(record))
    # Then no secret survives and the ids do
    for secret in ("1234", "123456", "state=x", "tok", "abc"):
        assert secret not in clean
    assert "keep-me" in clean
    assert clean.count(REDACTED) >= 6
