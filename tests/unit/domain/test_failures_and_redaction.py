import json

import pytest

from bankupdate.contract import CatchFailure, FailureKind, error_from_failure, failure_kind
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
    # Given no sign of life came from the poll loop (it crashed, or Express ended it), then the update stalled
    # (retryable)
    error = error_from_failure(failure("States.HeartbeatTimeout"), UpdateStatus.IN_PROGRESS)
    assert isinstance(error, UpdateStalled) and error.retryable


def test_the_whole_update_running_out_of_time_is_a_timeout() -> None:
    assert isinstance(error_from_failure(failure("States.Timeout"), UpdateStatus.IN_PROGRESS), UpdateTimedOut)


@pytest.mark.parametrize("error", ["Sandbox.Timedout", "Lambda.Unknown", "Lambda.ServiceException", "KeyError"])
def test_a_dead_worker_is_a_stalled_update_naming_the_error(error: str) -> None:
    # Given a poll (or the poll loop's hand-on) failed past its retries (a timeout as AWS names it, or a crash)
    found = error_from_failure(failure(error, "boom"), UpdateStatus.IN_PROGRESS)
    # Then the update stalled, and the message says why
    assert isinstance(found, UpdateStalled) and error in found.message


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        ("States.Timeout", FailureKind.TIMED_OUT),
        ("States.HeartbeatTimeout", FailureKind.SILENT),
        ("UpstreamUnavailable", FailureKind.DOMAIN),
        ("Sandbox.Timedout", FailureKind.WORKER_DIED),
        ("UserNeeded", FailureKind.WORKER_DIED),
    ],
)
def test_each_catch_is_read_as_one_kind_of_failure(error: str, kind: FailureKind) -> None:
    assert failure_kind(failure(error)) is kind


def test_a_hand_back_that_reached_a_wait_instead_of_the_poll_task_is_a_stalled_update() -> None:
    # Given a poll loop's hand-back that reached a task other than its Poll task (that task's Catch: Finalize)
    found = error_from_failure(failure("WaitLonger", '{"updateId": "u", "waitSeconds": 90}'), UpdateStatus.IN_PROGRESS)
    # Then it is no error of ours by that name: the update stalled, and the message names the hand-back
    assert isinstance(found, UpdateStalled) and "WaitLonger" in found.message


def test_a_failure_without_a_cause_still_explains_itself() -> None:
    found = error_from_failure(CatchFailure.model_validate({"Error": "Lambda.Unknown"}), UpdateStatus.IN_PROGRESS)
    assert isinstance(found, UpdateStalled) and "no details" in found.message


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
