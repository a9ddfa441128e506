import json

from bankupdate.domain.errors import AuthenticationExpired, BankUpdateError, UpstreamUnavailable
from bankupdate.domain.failures import StateFailure, error_from_failure
from bankupdate.domain.redaction import REDACTED, redact


def test_callback_timeout_means_the_user_did_not_answer() -> None:
    error = error_from_failure(StateFailure.from_catch({"Error": "States.Timeout", "Cause": ""}))
    assert isinstance(error, AuthenticationExpired)


def test_our_error_names_map_back_to_their_class_with_the_message() -> None:
    cause = json.dumps({"errorType": "UpstreamUnavailable", "errorMessage": "finAPI 503"})
    error = error_from_failure(StateFailure.from_catch({"Error": "UpstreamUnavailable", "Cause": cause}))
    assert isinstance(error, UpstreamUnavailable)
    assert error.message == "finAPI 503"


def test_unknown_errors_become_internal_errors() -> None:
    error = error_from_failure(StateFailure.from_catch({"Error": "KeyError", "Cause": "boom"}))
    assert type(error) is BankUpdateError
    assert "KeyError" in error.message


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
