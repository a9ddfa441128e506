"""What counts as a secret, and how it is removed from anything we log or emit."""

from __future__ import annotations

import re
from typing import Any

REDACTED = "***"

# Compared after lower-casing and dropping '-' and '_', so `challenge_response`, `Challenge-Response` and
# `challengeResponse` are one key.
_SECRET_KEYS = frozenset(
    {
        "password",
        "pin",
        "tan",
        "value",  # LoginCredential.value: every login credential value is treated as secret
        "logincredentials",
        "challengeresponse",
        "redirectcallback",
        "tasktoken",
        "token",
        "accesstoken",
        "refreshtoken",
        "idtoken",
        "authorization",
        "clientsecret",
        "secret",
        "secretstring",
        "cookie",
        "cookies",
        "xamzsecuritytoken",
    }
)
_BEARER = re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]+")


def is_secret_key(key: str) -> bool:
    return key.lower().replace("-", "").replace("_", "") in _SECRET_KEYS


def redact(value: Any) -> Any:
    """Return a copy of ``value`` with every secret-named entry masked, at any depth."""
    if isinstance(value, dict):
        return {k: (REDACTED if isinstance(k, str) and is_secret_key(k) else redact(v)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact(v) for v in value]
    if isinstance(value, str):
        return _BEARER.sub(r"\1 " + REDACTED, value)
    return value
