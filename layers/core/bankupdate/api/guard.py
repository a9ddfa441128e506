"""What every HTTP request must be before anything parses it: small, JSON, UTF-8, shallow, every key of an object
once (a JSON parser would silently keep the last one), and free of text that cannot be encoded (a lone surrogate such
as ``"\\ud800"`` is valid JSON but can never reach finAPI).

Each refusal is one of our errors, so it is answered in the one error shape, naming the problem.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from bankupdate.domain.errors import InvalidRequest, MalformedRequest, PayloadTooLarge, UnsupportedMediaType

MAX_BODY_BYTES = 32 * 1024
MAX_DEPTH = 20
_WITH_BODY = frozenset({"POST", "PUT", "PATCH"})


def _depth(text: str) -> int:
    """Nesting depth of a JSON text, counted without parsing it (the parser itself recurses)."""
    depth = deepest = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth -= 1
    return deepest


class _KeyTwice(ValueError):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _once_each(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """An object of the body, refused when it names a key twice."""
    seen: dict[str, Any] = {}
    for key, value in pairs:
        if key in seen:
            raise _KeyTwice(key)
        seen[key] = value
    return seen


def _unencodable(value: Any, path: str) -> str | None:
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return path or "body"
        return None
    if isinstance(value, dict):
        for key, item in value.items():
            found = _unencodable(key, path) or _unencodable(item, f"{path}.{key}" if path else str(key))
            if found:
                return found
    if isinstance(value, list):
        for index, item in enumerate(value):
            found = _unencodable(item, f"{path}[{index}]")
            if found:
                return found
    return None


def _body_bytes(event: dict[str, Any]) -> bytes:
    body = event.get("body")
    if body is None:
        return b""
    if event.get("isBase64Encoded"):
        try:
            return base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError):
            raise MalformedRequest("the body is not valid base64", details={"field": "body"}) from None
    try:
        return str(body).encode("utf-8")
    except UnicodeEncodeError:
        raise MalformedRequest("the body is not valid UTF-8", details={"field": "body"}) from None


def checked_event(event: dict[str, Any]) -> dict[str, Any]:
    """The event with a body that is safe to parse (decoded to text), or one of our errors."""
    method = str(event.get("requestContext", {}).get("http", {}).get("method", "")).upper()
    raw = _body_bytes(event)
    if len(raw) > MAX_BODY_BYTES:
        raise PayloadTooLarge(f"the body has {len(raw)} bytes; at most {MAX_BODY_BYTES} are accepted")
    if not raw.strip():
        return event | {"body": None, "isBase64Encoded": False}
    headers = {str(k).lower(): str(v) for k, v in (event.get("headers") or {}).items()}
    media_type = headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if method in _WITH_BODY and media_type != "application/json":
        raise UnsupportedMediaType(
            f"the body must be application/json, not {media_type or 'untyped'}", details={"field": "content-type"}
        )
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise MalformedRequest(f"the body is not valid UTF-8 (byte {error.start})", details={"field": "body"}) from None
    if _depth(text) > MAX_DEPTH:
        raise MalformedRequest(f"the body nests deeper than {MAX_DEPTH} levels", details={"field": "body"})
    try:
        parsed = json.loads(text, object_pairs_hook=_once_each)
    except _KeyTwice as twice:
        key = twice.key[:64]  # a key is a field name, never a value; a long one is cut, not echoed whole
        raise MalformedRequest(f"the body names the key {json.dumps(key)} twice", details={"field": key}) from None
    except ValueError as error:
        message = f"the body is not valid JSON: {getattr(error, 'msg', error)} at {getattr(error, 'pos', 0)}"
        raise MalformedRequest(message, details={"field": "body"}) from None
    field = _unencodable(parsed, "")
    if field is not None:
        raise InvalidRequest(
            f"{field} holds text that is not valid Unicode (a lone surrogate)",
            details={"problems": [{"field": field, "reason": "invalid Unicode"}]},
        )
    return event | {"body": text, "isBase64Encoded": False}
