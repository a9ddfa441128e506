"""LOCAL ONLY, nothing here is deployed: the reference front end (`frontend/`) served at `/` beside the HTTP API, on the
same origin, and a way to sign in as the demo user (`POST /_local/token`) with the local stand-in of the JWT
authorizer.

In AWS the operator hosts its own front end and its users sign in at the operator's issuer (e.g. Cognito): neither has
a counterpart in template.yaml. API routes are never shadowed: only files of `frontend/` and `/_local/` answer here.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

Answer = tuple[int, dict[str, str], bytes]

SIGN_IN_PATH = "/_local/token"
_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".png": "image/png",
    ".svg": "image/svg+xml",
}
# The headers docs/operations.md tells operators to serve the front end with ("Hosting the front end"), here with the
# API on the page's own origin: the page talks to the API only; photoTAN images arrive as data: URLs; the bank's
# return carries an authorization code in the URL, which no other site may see as a referrer.
_HEADERS = {
    "content-security-policy": "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; base-uri 'none'; form-action 'self'; object-src 'none'; frame-ancestors 'none'",
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "cache-control": "no-store",
}


@dataclass(frozen=True)
class FrontEnd:
    """Serve `root` at `/`, and sign in as `demo_sub` (the user the local stack registered)."""

    root: Path
    demo_sub: str


class LocalSite:
    def __init__(self, front_end: FrontEnd, issue_token: Callable[[str], str]) -> None:
        self._root = front_end.root.resolve()
        self._demo_sub = front_end.demo_sub
        self._issue_token = issue_token

    def answer(self, method: str, path: str) -> Answer | None:
        """The answer for a front-end request, or None to let the HTTP API route it."""
        if path == SIGN_IN_PATH:
            if method != "POST":
                return 405, {"content-type": "application/json", "allow": "POST"}, b'{"message":"Method Not Allowed"}'
            body = {"token": self._issue_token(self._demo_sub), "sub": self._demo_sub}
            return 200, {"content-type": "application/json", "cache-control": "no-store"}, json.dumps(body).encode()
        if method != "GET" or path.startswith("/v1/"):
            return None
        file = (self._root / ("index.html" if path == "/" else path.lstrip("/"))).resolve()
        if not file.is_relative_to(self._root) or file.suffix not in _TYPES or not file.is_file():
            return None
        return 200, _HEADERS | {"content-type": _TYPES[file.suffix]}, file.read_bytes()
