"""The HTTP API itself: its routes from the translated OpenAPI body, matched as API Gateway matches them, each
request authorized, handed to the route's function and answered, on a loopback HTTP server."""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

from local_stack.frontend import Answer, LocalSite
from local_stack.http_api.authorizers import Authorizers, Refused
from local_stack.http_api.cors import Cors
from local_stack.http_api.payload import Request, answer, lambda_event
from local_stack.lambdas.errors import CallerGaveUp, FunctionError
from local_stack.template import ACCOUNT_ID, REGION

INTEGRATION_TIMEOUT_SECONDS = 30  # HTTP APIs: fixed, not adjustable
_INTERNAL_ERROR = (500, {"content-type": "application/json"}, b'{"message":"Internal Server Error"}')
_UNAVAILABLE = (503, {"content-type": "application/json"}, b'{"message":"Service Unavailable"}')
_NOT_FOUND = (404, {"content-type": "application/json"}, b'{"message":"Not Found"}')

LOG = logging.getLogger("local_stack.http_api")


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128  # bursts of parallel clients must queue, not be reset


@dataclass
class Route:
    method: str
    template: str
    pattern: re.Pattern[str]
    function_arn: str
    security: str | None


def _pattern(path: str) -> re.Pattern[str]:
    regex = re.sub(r"\{(\w+)\+\}", r"(?P<\1>.+)", path)
    regex = re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", regex)
    return re.compile(f"^{regex}$")


def _routes(paths: dict[str, Any]) -> list[Route]:
    """The routes with a Lambda integration, most specific first (greedy ``{proxy+}`` paths last)."""
    routes: list[Route] = []
    for path, operations in paths.items():
        for method, operation in operations.items():
            integration = operation.get("x-amazon-apigateway-integration", {})
            match = re.search(r"(arn:aws:lambda:[^/]+:function:[^/]+)", str(integration.get("uri", "")))
            if match is None:
                continue
            security = next(iter(operation["security"][0]), None) if operation.get("security") else None
            routes.append(Route(method.upper(), path, _pattern(path), match.group(1), security))
    return sorted(routes, key=lambda r: ("+" in r.template, -r.template.count("/")))


class HttpApi:
    def __init__(
        self,
        body: dict[str, Any],
        api_id: str,
        invoke: Callable[[str, dict[str, Any], float], Any],
        may_invoke: Callable[[str, str], bool],
        time_scale: float = 1.0,
    ) -> None:
        self.api_id = api_id
        self._invoke = invoke
        self._may_invoke = may_invoke
        self._integration_timeout = INTEGRATION_TIMEOUT_SECONDS * time_scale
        self.routes = _routes(body.get("paths", {}))
        self.authorizers = Authorizers(body.get("components", {}).get("securitySchemes", {}))
        cors = body.get("x-amazon-apigateway-cors")
        self.cors = Cors.of(cors) if isinstance(cors, dict) else None
        self._server: ThreadingHTTPServer | None = None
        self.site: LocalSite | None = None  # local only: the reference front end beside the API (make local)

    def issue_token(self, sub: str, **claims: Any) -> str:
        return self.authorizers.issue_token(sub, **claims)

    def handle(
        self, method: str, raw_path: str, headers: dict[str, str], body: bytes, source_ip: str, host: str
    ) -> Answer:
        url = urlsplit(raw_path)
        if self.site is not None:
            page = self.site.answer(method, url.path)
            if page is not None:
                return page
        route, parameters = self._match(method, url.path)
        origin = headers.get("origin")
        preflight = method == "OPTIONS" and origin is not None and "access-control-request-method" in headers
        if self.cors is not None and preflight and route is None:
            return self.cors.preflight(origin)  # before any authorizer: no route takes it
        if route is None:
            return _NOT_FOUND
        try:
            authorizer = self.authorizers.context(route.security, method, f"http://{host}{raw_path}", headers, body)
        except Refused as refused:
            return refused.answer
        request = Request(method, url.path, url.query, headers, body, source_ip)
        event = lambda_event(request, self.api_id, f"{route.method} {route.template}", parameters, authorizer)
        source_arn = f"arn:aws:execute-api:{REGION}:{ACCOUNT_ID}:{self.api_id}/$default/{method}{url.path}"
        if not self._may_invoke(route.function_arn, source_arn):
            LOG.error(
                "API Gateway may not invoke %s for %s (no permission for this route)", route.function_arn, source_arn
            )
            return _INTERNAL_ERROR
        try:
            result = self._invoke(route.function_arn, event, self._integration_timeout)
        except CallerGaveUp:
            return _UNAVAILABLE
        except FunctionError:
            LOG.exception("the function behind %s %s failed", method, url.path)
            return _INTERNAL_ERROR
        status, answer_headers, data = answer(result)
        if self.cors is not None:
            answer_headers = self.cors.answer(origin, answer_headers)
        return status, answer_headers, data

    def _match(self, method: str, path: str) -> tuple[Route | None, dict[str, str]]:
        for route in self.routes:
            found = route.pattern.match(path)
            if found and route.method in (method, "X-AMAZON-APIGATEWAY-ANY-METHOD"):
                return route, found.groupdict()
        return None, {}

    def serve(self, host: str, port: int) -> int:
        api = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Headers and body are separate writes: with Nagle's algorithm each kept-alive answer would wait ~40 ms
            # for the client's delayed ACK.
            disable_nagle_algorithm = True

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _any(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length) if length else b""
                headers = {k.lower(): v for k, v in self.headers.items()}
                try:
                    status, out_headers, data = api.handle(
                        self.command, self.path, headers, body, self.client_address[0], headers.get("host", "")
                    )
                except Exception:  # an unhandled Lambda error is a 500 "Internal Server Error" on API Gateway
                    LOG.exception("unhandled error in the function behind %s %s", self.command, self.path)
                    status, out_headers, data = _INTERNAL_ERROR
                self.send_response(status)
                for name, value in out_headers.items():
                    self.send_header(name, value)
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = _any

        server = _Server((host, port), Handler)
        self._server = server
        threading.Thread(target=server.serve_forever, name="local-http-api", daemon=True).start()
        return int(server.server_address[1])

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
