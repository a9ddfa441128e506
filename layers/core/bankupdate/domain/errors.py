"""The one catalogue of domain errors.

Each error carries everything both boundaries need, so the mapping happens exactly once per boundary:

* the HTTP API turns any ``BankUpdateError`` into ``{"error": {"code", "message", "details"}}`` with its HTTP status
  (``api/statuses.py``);
* the state machine matches on the class name (Lambda's ``errorType``) in ``Retry``/``Catch``;
* a terminal update stores ``to_update_error()``.

The finAPI client (``bankupdate.finapi``) is the single place where finAPI answers become these errors.
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict


class UpdateError(BaseModel):
    """The error a terminal update carries, as stored and as shown to API clients."""

    model_config = ConfigDict(frozen=True)

    code: str
    message: str
    user_message: str
    retryable: bool
    user_action_required: bool
    upstream_code: str | None = None
    action_url: str | None = None  # where the user can act on it (finAPI's web form), when there is such a place


class BankUpdateError(Exception):
    """Base of every error the service raises on purpose."""

    code: ClassVar[str] = "INTERNAL_ERROR"
    retryable: ClassVar[bool] = False
    user_action_required: ClassVar[bool] = False
    default_user_message: ClassVar[str] = "Something went wrong on our side. Please try again later."

    def __init__(
        self,
        message: str,
        *,
        user_message: str | None = None,
        details: dict[str, Any] | None = None,
        upstream_status: int | None = None,
        upstream_code: str | None = None,
        request_id: str | None = None,
        action_url: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.user_message = user_message or self.default_user_message
        self.details: dict[str, Any] = details or {}
        self.upstream_status = upstream_status
        self.upstream_code = upstream_code
        self.request_id = request_id
        self.action_url = action_url

    def to_update_error(self) -> UpdateError:
        return UpdateError(
            code=self.code,
            message=self.message,
            user_message=self.user_message,
            retryable=self.retryable,
            user_action_required=self.user_action_required,
            upstream_code=self.upstream_code,
            action_url=self.action_url,
        )


# --- errors of our own API -------------------------------------------------------------------------------------------


class Unauthenticated(BankUpdateError):
    code = "UNAUTHENTICATED"
    default_user_message = "Please sign in again."


class InvalidRequest(BankUpdateError):
    code = "INVALID_REQUEST"
    default_user_message = "The request is not valid."


class MalformedRequest(BankUpdateError):
    """The body cannot be read at all: not UTF-8, not JSON, nested too deeply."""

    code = "MALFORMED_REQUEST"
    default_user_message = "The request could not be read."


class PayloadTooLarge(BankUpdateError):
    code = "PAYLOAD_TOO_LARGE"
    default_user_message = "The request is too large."


class UnsupportedMediaType(BankUpdateError):
    code = "UNSUPPORTED_MEDIA_TYPE"
    default_user_message = "The request must be JSON."


class IdempotencyKeyReused(BankUpdateError):
    """The same Idempotency-Key came with different options: replaying the first update would drop them silently."""

    code = "IDEMPOTENCY_KEY_REUSED"
    default_user_message = "This request was already made with other settings."


class TooManyUpdates(BankUpdateError):
    """Every user-present update reaches the bank; a connection may be updated only so often."""

    code = "TOO_MANY_UPDATES"
    retryable = True
    default_user_message = "This bank connection was updated several times just now. Please wait a few minutes."


class NotFound(BankUpdateError):
    """Also answered for other users' resources: never reveal that they exist."""

    code = "NOT_FOUND"
    default_user_message = "Not found."


class InvalidCursor(BankUpdateError):
    """A sync cursor this service did not issue to this user for this connection: altered, made up, or someone
    else's. The same answer for all of them, and never anyone's data."""

    code = "INVALID_CURSOR"
    default_user_message = "The list of changes cannot continue from there. Please load it again from the start."


class CursorExpired(BankUpdateError):
    """The changes after the cursor are older than the change log keeps (``CHANGES_RETENTION_DAYS``)."""

    code = "CURSOR_EXPIRED"
    default_user_message = "The list of changes is too old to continue. Please load it again from the start."


class UpdateAlreadyRunning(BankUpdateError):
    code = "UPDATE_ALREADY_RUNNING"
    retryable = True
    default_user_message = "An update of this bank connection is already running."


class ChallengeMismatch(BankUpdateError):
    """The answer does not fit the challenge the bank is waiting for (or none is pending)."""

    code = "CHALLENGE_MISMATCH"
    default_user_message = "This answer does not match what the bank asked for."


class AnswerTooEarly(BankUpdateError):
    """finAPI asks to repeat decoupled confirmations no more than once every few seconds (some banks count calls)."""

    code = "TOO_EARLY"
    retryable = True
    default_user_message = "Please wait a few seconds before checking again."


class AuthenticationExpired(BankUpdateError):
    code = "AUTHENTICATION_EXPIRED"
    user_action_required = True
    default_user_message = "The bank's authentication window has closed. Please start the update again."


class UnattendedBudgetExhausted(BankUpdateError):
    code = "UNATTENDED_BUDGET_EXHAUSTED"
    retryable = True
    default_user_message = "The bank allows only a few background updates per day; the next one will run tomorrow."


class TooManyAuthenticationRounds(BankUpdateError):
    code = "TOO_MANY_AUTHENTICATION_ROUNDS"
    user_action_required = True
    default_user_message = "Your bank kept asking for confirmation. Please start the update again."


class UpdateStalled(BankUpdateError):
    """The workflow stopped hearing from the update's progress (a lost timer message, a crashed worker)."""

    code = "UPDATE_STALLED"
    retryable = True
    default_user_message = "We lost track of this update. Please try again."


class UserNotRegistered(BankUpdateError):
    code = "USER_NOT_REGISTERED"
    default_user_message = "Your account is not connected to the banking service yet."


# --- errors of the platform we run on (raised by the AWS adapters only) ---------------------------------------------


class AwsThrottled(BankUpdateError):
    """AWS refused a call for rate (a quota's token bucket was empty) and went on refusing through the SDK's retries.
    Nothing was done by the refused call; the same call a little later succeeds. The state machine retries it by this
    name; the HTTP API answers it 503 with Retry-After."""

    code = "THROTTLED"
    retryable = True
    default_user_message = "We are very busy right now. Please try again in a few seconds."


# --- errors that come from finAPI (raised by the finAPI client only) -------------------------------------------------


class BankRejected(BankUpdateError):
    """finAPI ``BANK_SERVER_REJECTION``: wrong credentials, blocked online banking, failed SCA ..."""

    code = "BANK_REJECTED"
    user_action_required = True
    default_user_message = "Your bank rejected the login. Please check your credentials and try again."


class ConsentInvalid(BankUpdateError):
    """finAPI ``INVALID_CONSENT``: the stored consent expired or was revoked."""

    code = "CONSENT_INVALID"
    user_action_required = True
    default_user_message = "Your bank consent has expired. Please renew it by updating the connection yourself."


class CredentialsRequired(BankUpdateError):
    """finAPI ``MISSING_FIELD``: stored plus given credentials are incomplete."""

    code = "CREDENTIALS_REQUIRED"
    user_action_required = True
    default_user_message = "Please enter your online banking credentials."


class UpstreamRejectedRequest(BankUpdateError):
    """finAPI rejected the request itself (``ILLEGAL_FIELD_VALUE``, ``BAD_REQUEST``, ``NO_EXISTING_CHALLENGE`` ...)."""

    code = "REQUEST_REJECTED_BY_FINAPI"
    default_user_message = "The bank connection could not be updated with these settings."


class UpdateLockedUpstream(BankUpdateError):
    """finAPI 423 ``LOCKED``: finAPI itself is importing or updating the connection right now."""

    code = "UPDATE_ALREADY_RUNNING"
    retryable = True
    default_user_message = "The bank connection is being updated right now. Please try again in a minute."


class UpstreamNotFound(BankUpdateError):
    """finAPI 404 ``UNKNOWN_ENTITY``."""

    code = "NOT_FOUND"
    default_user_message = "This bank connection does not exist (any more)."


class UpstreamAuthFailed(BankUpdateError):
    """finAPI 401/403, or bad client/user credentials at the token endpoint: a configuration problem of ours."""

    code = "FINAPI_AUTHENTICATION_FAILED"


class BankUnsupported(BankUpdateError):
    """finAPI 501 ``UNSUPPORTED_BANK``."""

    code = "BANK_UNSUPPORTED"
    default_user_message = "This bank is currently not supported."


class WebFormRequired(BankUpdateError):
    """finAPI 451 ``WEB_FORM_REQUIRED`` (deprecated, finAPI's old V1 Web Form): finAPI will only go on with the user in
    its Web Form, which this service's direct updates never show. No retry can succeed: the mandator's finAPI licence
    wants the Web Form, so the deployment must run in its Web Form 2.0 mode."""

    code = "WEB_FORM_REQUIRED"
    default_user_message = "This bank connection cannot be updated here at the moment. Please contact support."


class UpstreamUnavailable(BankUpdateError):
    """finAPI 5xx, a timeout or a broken connection: transient, safe to retry for idempotent calls."""

    code = "UPSTREAM_UNAVAILABLE"
    retryable = True
    default_user_message = "The banking service is not reachable right now. Please try again in a few minutes."


# --- terminal outcomes decided by the workflow ----------------------------------------------------------------------


class UpdateTimedOut(BankUpdateError):
    code = "TIMED_OUT"
    retryable = True
    default_user_message = "The bank took too long to deliver your data. Please try again later."


class DownloadFailed(BankUpdateError):
    """finAPI finished the update, but ``lastManualUpdate``/``lastAutoUpdate`` or every account says it failed."""

    code = "DOWNLOAD_FAILED"
    retryable = True
    default_user_message = "Your bank did not deliver new data this time."


class WebFormAborted(BankUpdateError):
    """Web Form 2.0: the user cancelled finAPI's web form before any bank interface was updated."""

    code = "WEB_FORM_ABORTED"
    user_action_required = True
    default_user_message = "The update was cancelled in the bank's form. Start it again when you are ready."


class UserActionRequired(BankUpdateError):
    """An unattended update reached a point where only the user can continue (SCA, credentials, consent)."""

    code = "USER_ACTION_REQUIRED"
    user_action_required = True
    default_user_message = "Your bank needs you to confirm this connection. Please open the app and update it."
