"""What the OpenAPI document says about a route beyond its bodies: who may call it, every answer it can give
(ours and API Gateway's own), and the headers that come with them.

Each route declares ``**documented(USER, 200, "...", Model)`` on its decorator, so the document cannot describe a
route differently from the handler that serves it; the template's authorizers are checked against it in the tests.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse
from pydantic import BaseModel

from bankupdate.api.models import ErrorResponse, GatewayError, Unauthorized

USER_JWT = "userJwt"
OPERATOR_SIGV4 = "operatorSigV4"

# The schemes the routes name. API Gateway checks them before any of our code runs (template.yaml, HttpApi Auth).
SECURITY_SCHEMES: dict[str, dict[str, Any]] = {
    USER_JWT: {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
        "description": "An end-user JWT from the operator's issuer (template parameters JwtIssuer, JwtAudience); its "
        "`sub` is the user. API Gateway's JWT authorizer refuses a missing, expired or foreign token with "
        '401 `{"message":"Unauthorized"}` before our code runs.',
    },
    OPERATOR_SIGV4: {
        "type": "apiKey",
        "in": "header",
        "name": "Authorization",
        "description": "AWS Signature Version 4 (service `execute-api`) made with operator credentials allowed to call "
        '`execute-api:Invoke` on this route. API Gateway refuses anything else with 403 `{"message":"Forbidden"}`.',
        "x-amazon-apigateway-authtype": "awsSigv4",
    },
}

# Response headers, defined once under components.headers.
HEADERS: dict[str, dict[str, Any]] = {
    "NoStore": {
        "description": "`no-store`: answers carry account data and challenges, no cache may keep them",
        "schema": {"type": "string", "const": "no-store"},
    },
    "NoSniff": {
        "description": "`nosniff`: a browser reads the answer as the JSON it is, never as a script or a page",
        "schema": {"type": "string", "const": "nosniff"},
    },
    "RetryAfter": {
        "description": "Seconds to wait before trying again, when waiting helps (the same number as "
        "`error.details.retryAfterSeconds`)",
        "schema": {"type": "integer", "minimum": 1},
    },
    "UpdateLocation": {
        "description": "The update just started: `/v1/updates/{updateId}`",
        "required": True,
        "schema": {"type": "string"},
    },
}


def _header(name: str) -> dict[str, Any]:
    return {"$ref": f"#/components/headers/{name}"}


_OURS = {"Cache-Control": _header("NoStore"), "X-Content-Type-Options": _header("NoSniff")}
_RETRY_AFTER = {"Retry-After": _header("RetryAfter")}
LOCATION = {"Location": _header("UpdateLocation")}

# Answers of our own code, in the one error shape, on every route.
_ERRORS: dict[int, str] = {
    400: "MALFORMED_REQUEST: the body is not UTF-8, not JSON, nested too deeply, or names a key twice (details.field "
    "names it); INVALID_CURSOR: a sync cursor this service did not give this user for this connection",
    404: "NOT_FOUND (also for other users' updates and connections), USER_NOT_REGISTERED",
    409: "Conflicts with the update's state: UPDATE_ALREADY_RUNNING (details.updateId names it), "
    "CHALLENGE_MISMATCH (details.expected names the field to send), "
    "TOO_MANY_AUTHENTICATION_ROUNDS, USER_ACTION_REQUIRED, WEB_FORM_ABORTED",
    410: "AUTHENTICATION_EXPIRED: the authentication window has closed; start a new update. CURSOR_EXPIRED: the "
    "changes after the cursor are no longer kept; start again with `since`",
    413: "PAYLOAD_TOO_LARGE",
    415: "UNSUPPORTED_MEDIA_TYPE: the body must be application/json",
    422: "INVALID_REQUEST (details.problems lists {field, reason}), IDEMPOTENCY_KEY_REUSED, or finAPI or the bank "
    "refused: BANK_REJECTED, CONSENT_INVALID, CREDENTIALS_REQUIRED, BANK_UNSUPPORTED, REQUEST_REJECTED_BY_FINAPI",
    429: "TOO_MANY_UPDATES, TOO_EARLY (decoupled checks: at most one per few seconds), UNATTENDED_BUDGET_EXHAUSTED; "
    'or API Gateway\'s own `{"message":"Too Many Requests"}` (the stage\'s throttle, without Retry-After)',
    500: "INTERNAL_ERROR: unexpected error on our side",
    502: "finAPI refused our own credentials (FINAPI_AUTHENTICATION_FAILED), the download failed (DOWNLOAD_FAILED), or "
    "finAPI wants its old web form (WEB_FORM_REQUIRED: the deployment must run in Web Form 2.0 mode)",
    503: "finAPI is not reachable (UPSTREAM_UNAVAILABLE), the update stalled (UPDATE_STALLED), or AWS refused one of "
    "our calls for rate (THROTTLED: nothing was started, or the update has ended; wait Retry-After); try again",
    504: "TIMED_OUT: the bank took too long",
}


@dataclass(frozen=True)
class Access:
    """Who may call a route, and how API Gateway answers everyone else."""

    security: tuple[str, ...]
    refusals: tuple[tuple[int, str, type[BaseModel]], ...]


USER = Access(
    (USER_JWT,),
    (
        (
            401,
            'No valid token: API Gateway\'s own `{"message":"Unauthorized"}`; a verified token without `sub` gets '
            "UNAUTHENTICATED in the error shape",
            Unauthorized,
        ),
    ),
)
OPERATOR = Access(
    (OPERATOR_SIGV4,),
    ((403, 'No valid SigV4 signature: API Gateway\'s own `{"message":"Forbidden"}`', GatewayError),),
)
# finAPI calls it: the unguessable token in the path is the key.
ANYONE = Access((), ())


def _error(description: str, headers: dict[str, Any]) -> OpenAPIResponse:
    response: dict[str, Any] = {
        "description": description,
        "headers": headers,
        "content": {"application/json": {"model": ErrorResponse}},
    }
    return response  # type: ignore[return-value]  # headers are references, which the TypedDict does not know


def responses(
    access: Access,
    status: int,
    description: str,
    model: type[BaseModel] | None = None,
    headers: dict[str, dict[str, Any]] | None = None,
) -> dict[int, OpenAPIResponse]:
    """The route's success answer, our documented error answers and API Gateway's refusals."""
    documented: dict[int, OpenAPIResponse] = {
        code: _error(text, _OURS | (_RETRY_AFTER if code in (409, 429, 503) else {})) for code, text in _ERRORS.items()
    }
    for code, text, refusal in access.refusals:
        # API Gateway's answers carry none of our headers.
        documented[code] = {"description": text, "content": {"application/json": {"model": refusal}}}
    success: dict[str, Any] = {"description": description, "headers": _OURS | (headers or {})}
    if model is not None:
        success["content"] = {"application/json": {"model": model}}
    documented[status] = success  # type: ignore[assignment]  # headers are references, unknown to the TypedDict
    return documented


def documented(
    access: Access,
    status: int,
    description: str,
    model: type[BaseModel] | None = None,
    headers: dict[str, dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """Keyword arguments for a route decorator: its security requirement and every answer it can give."""
    return {
        "security": [{scheme: []} for scheme in access.security] or None,
        "responses": responses(access, status, description, model, headers),
    }
