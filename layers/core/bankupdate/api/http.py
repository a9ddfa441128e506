"""The resolver every HTTP function uses, with the one mapping of domain errors to HTTP answers."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response, content_types
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError

from bankupdate.api.guard import checked_event
from bankupdate.api.models import ErrorDetail, ErrorResponse
from bankupdate.api.statuses import http_status_of
from bankupdate.domain.errors import BankUpdateError, Unauthenticated
from bankupdate.domain.psu import PsuContext, derive_psu
from bankupdate.observability import logger

# On every answer of ours. Answers carry account data and challenges: no cache (browser, proxy, CDN) may keep them;
# and a browser must read them as the JSON they say they are, never sniff them into a script or a page.
ANSWER_HEADERS = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}


def error_response(status: int, code: str, message: str, details: dict[str, Any] | None = None) -> Response[str]:
    body = ErrorResponse(error=ErrorDetail(code=code, message=message, details=details or {}))
    return Response(status, content_types.APPLICATION_JSON, body.model_dump_json())


def domain_error_response(error: BankUpdateError) -> Response[str]:
    """The one mapping of our errors to HTTP: status from the catalogue, the one error shape, Retry-After when the
    error says how long to wait."""
    details = dict(error.details)
    details.setdefault("userMessage", error.user_message)
    details.setdefault("retryable", error.retryable)
    details.setdefault("userActionRequired", error.user_action_required)
    status = http_status_of(error)
    log = logger.warning if status < 500 else logger.error
    log("request failed", extra={"error_code": error.code, "status": status})
    response = error_response(status, error.code, error.message, details)
    retry_after = details.get("retryAfterSeconds")
    if retry_after is not None:
        response.headers["Retry-After"] = str(retry_after)
    return response


def _field(location: Any) -> str:
    return ".".join(str(part) for part in location if part not in ("body",)) or "body"


def build_resolver() -> APIGatewayHttpResolver:
    app = APIGatewayHttpResolver(enable_validation=True)

    @app.exception_handler(RequestValidationError)  # type: ignore[untyped-decorator]
    def _invalid(error: RequestValidationError) -> Response[str]:
        # Only location and reason: pydantic's `input` would echo what the user typed (credentials, TANs).
        problems = [{"field": _field(e.get("loc", ())), "reason": e.get("msg", "invalid")} for e in error.errors()]
        fields = ", ".join(p["field"] for p in problems)
        return error_response(422, "INVALID_REQUEST", f"invalid request: {fields}", {"problems": problems})

    app.exception_handler(BankUpdateError)(domain_error_response)

    @app.exception_handler(Exception)  # type: ignore[untyped-decorator]
    def _unexpected(error: Exception) -> Response[str]:
        logger.exception("unexpected error")
        return error_response(500, "INTERNAL_ERROR", "unexpected error", {"retryable": True})

    @app.not_found
    def _not_found(_: Exception) -> Response[str]:
        return error_response(404, "NOT_FOUND", "no such route")

    return app


def resolve(app: APIGatewayHttpResolver, event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Check the raw request, resolve it, and give the answer ANSWER_HEADERS."""
    try:
        checked = checked_event(event)
    except BankUpdateError as error:
        answer = domain_error_response(error)
        headers = {k: str(v) for k, v in answer.headers.items()}
        return {
            "statusCode": answer.status_code,
            "headers": headers | {"Content-Type": content_types.APPLICATION_JSON} | ANSWER_HEADERS,
            "body": answer.body,
            "isBase64Encoded": False,
        }
    result = app.resolve(checked, context)
    result["headers"] = (result.get("headers") or {}) | ANSWER_HEADERS
    return result


def caller_id(app: APIGatewayHttpResolver) -> str:
    """The end user: the JWT's ``sub`` as verified by API Gateway's authorizer."""
    claims = app.current_event.request_context.authorizer.jwt_claim or {}
    subject = claims.get("sub")
    if not isinstance(subject, str) or not subject:
        raise Unauthenticated("the request carries no verified user")
    return subject


def request_psu(app: APIGatewayHttpResolver) -> PsuContext:
    event = app.current_event
    headers = {k.lower(): v for k, v in (event.headers or {}).items()}
    http = event.request_context.http
    return derive_psu(headers, source_ip=http.source_ip, request_user_agent=http.user_agent)
