"""The one mapping of our errors to HTTP statuses. The domain names what went wrong (``domain/errors.py``); what that
is in HTTP is the API's to say, once, here. An error without an entry of its own has its nearest ancestor's status."""

from __future__ import annotations

from bankupdate.domain import errors

HTTP_STATUS: dict[type[errors.BankUpdateError], int] = {
    errors.BankUpdateError: 500,
    errors.Unauthenticated: 401,
    errors.InvalidRequest: 422,
    errors.MalformedRequest: 400,
    errors.PayloadTooLarge: 413,
    errors.UnsupportedMediaType: 415,
    errors.IdempotencyKeyReused: 422,
    errors.TooManyUpdates: 429,
    errors.NotFound: 404,
    errors.InvalidCursor: 400,
    errors.CursorExpired: 410,
    errors.UpdateAlreadyRunning: 409,
    errors.ChallengeMismatch: 409,
    errors.AnswerTooEarly: 429,
    errors.AuthenticationExpired: 410,
    errors.UnattendedBudgetExhausted: 429,
    errors.TooManyAuthenticationRounds: 409,
    errors.UpdateStalled: 503,
    errors.UserNotRegistered: 404,
    errors.AwsThrottled: 503,
    errors.BankRejected: 422,
    errors.ConsentInvalid: 422,
    errors.CredentialsRequired: 422,
    errors.UpstreamRejectedRequest: 422,
    errors.UpdateLockedUpstream: 409,
    errors.UpstreamNotFound: 404,
    errors.UpstreamAuthFailed: 502,
    errors.BankUnsupported: 422,
    errors.WebFormRequired: 502,
    errors.UpstreamUnavailable: 503,
    errors.UpdateTimedOut: 504,
    errors.DownloadFailed: 502,
    errors.WebFormAborted: 409,
    errors.UserActionRequired: 409,
}


def http_status_of(error: errors.BankUpdateError) -> int:
    for kind in type(error).__mro__:
        status = HTTP_STATUS.get(kind)
        if status is not None:
            return status
    return 500
