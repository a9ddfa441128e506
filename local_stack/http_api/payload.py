"""API Gateway's payload format 2.0 for Lambda: the event a route's function gets, and how its result becomes the
HTTP answer."""

from __future__ import annotations

import base64
import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs

from local_stack.frontend import Answer
from local_stack.template import ACCOUNT_ID


@dataclass(frozen=True)
class Request:
    """An HTTP request as it reached the API."""

    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: bytes
    source_ip: str


def lambda_event(
    request: Request,
    api_id: str,
    route_key: str,
    parameters: dict[str, str],
    authorizer: dict[str, Any] | None,
) -> dict[str, Any]:
    now = datetime.now(UTC)
    headers = request.headers
    text: str | None = None
    encoded = False
    if request.body:
        try:
            text = request.body.decode()
        except UnicodeDecodeError:
            text, encoded = base64.b64encode(request.body).decode(), True
    request_context: dict[str, Any] = {
        "accountId": ACCOUNT_ID,
        "apiId": api_id,
        "domainName": headers.get("host", "127.0.0.1"),
        "domainPrefix": api_id,
        "http": {
            "method": request.method,
            "path": request.path,
            "protocol": "HTTP/1.1",
            "sourceIp": request.source_ip,
            "userAgent": headers.get("user-agent", ""),
        },
        "requestId": uuid.uuid4().hex[:16],
        "routeKey": route_key,
        "stage": "$default",
        "time": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
        "timeEpoch": int(now.timestamp() * 1000),
    }
    if authorizer is not None:
        request_context["authorizer"] = authorizer
    query_parameters = {k: ",".join(v) for k, v in parse_qs(request.query).items()} or None
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": route_key,
        "rawPath": request.path,
        "rawQueryString": request.query,
        "headers": headers,
        "requestContext": request_context,
        "isBase64Encoded": encoded,
    }
    if "cookie" in headers:
        event["cookies"] = [c.strip() for c in headers["cookie"].split(";")]
    if query_parameters:
        event["queryStringParameters"] = query_parameters
    if parameters:
        event["pathParameters"] = parameters
    if text is not None:
        event["body"] = text
    return event


def answer(result: Any) -> Answer:
    """API Gateway's v2 rules: a dict with statusCode is a full response, anything else is a 200 JSON body."""
    if isinstance(result, dict) and "statusCode" in result:
        headers = {k.lower(): str(v) for k, v in (result.get("headers") or {}).items()}
        raw = result.get("body") or ""
        data = base64.b64decode(raw) if result.get("isBase64Encoded") else str(raw).encode()
        for cookie in result.get("cookies") or []:
            headers.setdefault("set-cookie", cookie)
        return int(result["statusCode"]), headers, data
    return 200, {"content-type": "application/json"}, json.dumps(result).encode()
