"""LOCAL ONLY, nothing here is deployed: the reference front end (`frontend/`) served beside the HTTP API, and a way to
sign in as the demo user (`POST /_local/token`) with the local stand-in of the JWT authorizer.

By default the front end is at `/` of the API's own origin. With a port of its own it is a second origin,
`http://127.0.0.1:<port>`, which calls the API across origins as a front end hosted apart from the stack does: its
`config.js` names the API, and the stack needs that origin in `AllowedOrigins` (CORS).

In AWS the operator hosts its own front end and its users sign in at the operator's issuer (e.g. Cognito): neither has
a counterpart in template.yaml. API routes are never shadowed: only files of `frontend/` and `/_local/` answer here.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

Answer = tuple[int, dict[str, str], bytes]

SIGN_IN_PATH = "/_local/token"
_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".png": "image/png",
    ".svg": "image/svg+xml",
}
# The headers docs/operations.md tells operators to serve the front end with ("Hosting the front end"), <ApiOrigin>
# being the API's origin (left out when the page is on the API's own origin): the page talks to the API only;
# photoTAN images arrive as data: URLs; the bank's return carries an authorization code in the URL, which no other
# site may see as a referrer.
_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self' <ApiOrigin>; "
    "base-uri 'none'; form-action 'self'; object-src 'none'; frame-ancestors 'none'"
)
_HEADERS = {"x-content-type-options": "nosniff", "referrer-policy": "no-referrer", "cache-control": "no-store"}


@dataclass(frozen=True)
class FrontEnd:
    """Serve `root`, and sign in as `demo_sub` (the user the local stack registered). ``port``: None serves it at `/`
    of the API's origin; a port (0: any free one) serves it on an origin of its own."""

    root: Path
    demo_sub: str
    port: int | None = None


class LocalSite:
    def __init__(self, front_end: FrontEnd, issue_token: Callable[[str], str], api_origin: str | None = None) -> None:
        """``api_origin``: where the API is, when that is not the site's own origin."""
        self._root = front_end.root.resolve()
        self._demo_sub = front_end.demo_sub
        self._issue_token = issue_token
        self._api_origin = api_origin
        policy = _CSP.replace(" <ApiOrigin>", f" {api_origin}" if api_origin else "")
        self._headers = {"content-security-policy": policy} | _HEADERS

    def answer(self, method: str, path: str) -> Answer | None:
        """The answer for a front-end request, or None to let the HTTP API route it."""
        if path == SIGN_IN_PATH:
            if method != "POST":
                return 405, {"content-type": "application/json", "allow": "POST"}, b'{"message":"Method Not Allowed"}'
            body = {"token": self._issue_token(self._demo_sub), "sub": self._demo_sub}
            return 200, {"content-type": "application/json", "cache-control": "no-store"}, json.dumps(body).encode()
        if method != "GET" or path.startswith("/v1/"):
            return None
        if path == "/config.js" and self._api_origin is not None:
            # What an operator writes into config.js when hosting the front end apart from the API.
            config = f"export const API_URL = {json.dumps(self._api_origin)};\n".encode()
            return 200, self._headers | {"content-type": _TYPES[".js"]}, config
        file = (self._root / ("index.html" if path == "/" else path.lstrip("/"))).resolve()
        if not file.is_relative_to(self._root) or file.suffix not in _TYPES or not file.is_file():
            return None
        return 200, self._headers | {"content-type": _TYPES[file.suffix]}, file.read_bytes()


class SiteServer:
    """The front end on an origin of its own (loopback): nothing but `LocalSite`'s answers, 404 for the rest."""

    def __init__(self, site: LocalSite) -> None:
        self._site = site
        self._server: ThreadingHTTPServer | None = None

    def serve(self, host: str, port: int) -> str:
        site = self._site

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _any(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                if length:
                    self.rfile.read(length)
                found = site.answer(self.command, self.path.split("?", 1)[0])
                status, headers, data = found or (404, {"content-type": "text/plain"}, b"Not Found")
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = _any

        server = ThreadingHTTPServer((host, port), Handler)
        server.daemon_threads = True
        self._server = server
        threading.Thread(target=server.serve_forever, name="local-front-end", daemon=True).start()
        return f"http://{host}:{server.server_address[1]}"

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
