"""The one place where finAPI's HTTP answers become domain errors."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from bankupdate.domain import errors
from bankupdate.finapi.models import BadCredentialsError, ErrorMessage

_BY_CODE: dict[str, type[errors.BankUpdateError]] = {
    "BANK_SERVER_REJECTION": errors.BankRejected,
    "INVALID_CONSENT": errors.ConsentInvalid,
    "MISSING_FIELD": errors.CredentialsRequired,
    "MISSING_CREDENTIALS": errors.CredentialsRequired,
    "LOCKED": errors.UpdateLockedUpstream,
    "UNKNOWN_ENTITY": errors.UpstreamNotFound,
    "UNSUPPORTED_BANK": errors.BankUnsupported,
    "INVALID_TOKEN": errors.UpstreamAuthFailed,
    "UNAUTHORIZED_ACCESS": errors.UpstreamAuthFailed,
    "FORBIDDEN": errors.UpstreamAuthFailed,
}

_BY_STATUS: dict[int, type[errors.BankUpdateError]] = {
    400: errors.UpstreamRejectedRequest,
    401: errors.UpstreamAuthFailed,
    403: errors.UpstreamAuthFailed,
    404: errors.UpstreamNotFound,
    422: errors.UpstreamRejectedRequest,
    423: errors.UpdateLockedUpstream,
    501: errors.BankUnsupported,
}


def error_class_for_status(status: int) -> type[errors.BankUpdateError]:
    """What an answer of finAPI's (Access or Web Form 2.0) with this status and no known error code means."""
    return _BY_STATUS.get(status, errors.UpstreamUnavailable)


def parse_error_message(body: Any) -> ErrorMessage | None:
    try:
        message = ErrorMessage.model_validate(body)
    except ValidationError:
        return None
    return message if message.errors else None


def _web_form_required(status: int, message: ErrorMessage | None, request_id: str | None) -> errors.WebFormRequired:
    # The error's message is the web form's id; its URL (`Location`) is left out: the user never goes there from us.
    form_id = message.errors[0].message if message is not None else None
    return errors.WebFormRequired(
        f"finAPI answered {status} WEB_FORM_REQUIRED (web form {form_id or 'unknown'}): this connection can only be "
        "updated through finAPI's Web Form, which direct updates never show; run the deployment in its Web Form 2.0 "
        "mode for this mandator",
        upstream_status=status,
        upstream_code="WEB_FORM_REQUIRED",
        request_id=request_id or (message.request_id if message is not None else None),
    )


def error_for(status: int, body: Any, request_id: str | None) -> errors.BankUpdateError:
    message = parse_error_message(body)
    if status == 451 or (message is not None and message.errors[0].code == "WEB_FORM_REQUIRED"):
        return _web_form_required(status, message, request_id)
    if message is not None:
        first = message.errors[0]
        error_class = _BY_CODE.get(first.code) or _BY_STATUS.get(status) or errors.UpstreamUnavailable
        if status >= 500 and first.code not in _BY_CODE:
            error_class = errors.UpstreamUnavailable
        business = first.type == "BUSINESS"
        return error_class(
            f"finAPI answered {status} {first.code}: {first.message or 'no message'}",
            user_message=first.message if business and first.message else None,
            upstream_status=status,
            upstream_code=first.code,
            request_id=request_id or message.request_id,
        )
    if status == 401:
        try:
            description = BadCredentialsError.model_validate(body).error_description
        except ValidationError:
            description = None
        return errors.UpstreamAuthFailed(
            f"finAPI rejected our credentials or token: {description or 'no description'}",
            upstream_status=status,
            upstream_code="invalid_token",
            request_id=request_id,
        )
    error_class = _BY_STATUS.get(status, errors.UpstreamUnavailable)
    if status >= 500:
        error_class = errors.UpstreamUnavailable
    return error_class(
        f"finAPI answered {status} without a readable error", upstream_status=status, request_id=request_id
    )
