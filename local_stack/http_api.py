"""The template's HTTP API on loopback: routes from the translated OpenAPI body, payload v2.0 events, and local
stand-ins for the JWT authorizer (tokens this stack issues) and for AWS_IAM (SigV4 with the stack's credentials).

As API Gateway: a function is invoked only if its resource-based policy lets apigateway.amazonaws.com in for this
route's ARN, a function error is a bare 500, and an integration still running at 30 s is a bare 503.

CORS (``x-amazon-apigateway-cors``, the template's ``CorsConfiguration``) as HTTP APIs do it: a preflight (OPTIONS with
``Origin`` and ``Access-Control-Request-Method``) is answered by the API itself, before any authorizer, unless a route
of method OPTIONS or ANY takes it (AWS documents that the ``$default`` route catches OPTIONS requests; an ANY route
does the same); an integration's answer to an allowed origin gets the configured headers, and the function's own
CORS headers are dropped. Without a configuration a preflight is an ordinary request: it meets the route table, and
with no OPTIONS route that is API Gateway's 404."""

from __future__ import annotations

import base64
import hmac
import json
import logging
import re
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jwt
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from cryptography.hazmat.primitives.asymmetric import rsa

from local_stack.frontend import LocalSite
from local_stack.lambdas.errors import CallerGaveUp, FunctionError
from local_stack.template import ACCOUNT_ID, REGION

INTEGRATION_TIMEOUT_SECONDS = 30  # HTTP APIs: fixed, not adjustable
_INTERNAL_ERROR = (500, {"content-type": "application/json"}, b'{"message":"Internal Server Error"}')
_UNAVAILABLE = (503, {"content-type": "application/json"}, b'{"message":"Service Unavailable"}')

LOG = logging.getLogger("local_stack.http_api")
LOCAL_ACCESS_KEY = "testing"
LOCAL_SECRET_KEY = "testing"  # noqa: S105 - moto's well-known local credentials


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


@dataclass
class JwtAuthorizer:
    issuer: str
    audiences: list[str]


@dataclass
class Cors:
    """The API's CORS configuration (``x-amazon-apigateway-cors``)."""

    allow_origins: list[str]
    allow_methods: list[str]
    allow_headers: list[str]
    expose_headers: list[str]
    max_age: int | None
    allow_credentials: bool

    @classmethod
    def of(cls, config: dict[str, Any]) -> Cors:
        return cls(
            allow_origins=[str(o) for o in config.get("allowOrigins", [])],
            allow_methods=[str(m).upper() for m in config.get("allowMethods", [])],
            allow_headers=[str(h).lower() for h in config.get("allowHeaders", [])],
            expose_headers=[str(h).lower() for h in config.get("exposeHeaders", [])],
            max_age=int(config["maxAge"]) if config.get("maxAge") is not None else None,
            allow_credentials=bool(config.get("allowCredentials", False)),
        )

    def allows(self, origin: str | None) -> bool:
        return origin is not None and (origin in self.allow_origins or "*" in self.allow_origins)

    def _origin(self, origin: str) -> dict[str, str]:
        headers = {"access-control-allow-origin": "*" if "*" in self.allow_origins else origin}
        if self.allow_credentials:
            headers["access-control-allow-credentials"] = "true"
        return headers

    def preflight(self, origin: str | None) -> tuple[int, dict[str, str], bytes]:
        if not self.allows(origin):
            return 204, {}, b""
        assert origin is not None
        headers = self._origin(origin)
        if self.allow_methods:
            headers["access-control-allow-methods"] = ",".join(self.allow_methods)
        if self.allow_headers:
            headers["access-control-allow-headers"] = ",".join(self.allow_headers)
        if self.max_age is not None:
            headers["access-control-max-age"] = str(self.max_age)
        return 204, headers, b""

    def answer(self, origin: str | None, headers: dict[str, str]) -> dict[str, str]:
        """The integration's headers as API Gateway sends them: its own CORS headers, none of the function's."""
        kept = {k: v for k, v in headers.items() if not k.startswith("access-control-")}
        if not self.allows(origin):
            return kept
        assert origin is not None
        extra = self._origin(origin)
        if self.expose_headers:
            extra["access-control-expose-headers"] = ",".join(self.expose_headers)
        return kept | extra


def _pattern(path: str) -> re.Pattern[str]:
    regex = re.sub(r"\{(\w+)\+\}", r"(?P<\1>.+)", path)
    regex = re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", regex)
    return re.compile(f"^{regex}$")


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
        self.routes: list[Route] = []
        self.jwt: dict[str, JwtAuthorizer] = {}
        for name, scheme in body.get("components", {}).get("securitySchemes", {}).items():
            authorizer = scheme.get("x-amazon-apigateway-authorizer", {})
            if authorizer.get("type") == "jwt":
                config = authorizer["jwtConfiguration"]
                audience = config.get("audience") or []
                self.jwt[name] = JwtAuthorizer(config["issuer"], audience if isinstance(audience, list) else [audience])
        for path, operations in body.get("paths", {}).items():
            for method, operation in operations.items():
                integration = operation.get("x-amazon-apigateway-integration", {})
                uri = str(integration.get("uri", ""))
                match = re.search(r"(arn:aws:lambda:[^/]+:function:[^/]+)", uri)
                if match is None:
                    continue
                security = next(iter(operation["security"][0]), None) if operation.get("security") else None
                self.routes.append(Route(method.upper(), path, _pattern(path), match.group(1), security))
        self.routes.sort(key=lambda r: ("+" in r.template, -r.template.count("/")))
        cors = body.get("x-amazon-apigateway-cors")
        self.cors = Cors.of(cors) if isinstance(cors, dict) else None
        self._key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self._server: ThreadingHTTPServer | None = None
        self.site: LocalSite | None = None  # local only: the reference front end beside the API (make local)

    # ------------------------------------------------------------------------------------------------ tokens

    def issue_token(self, sub: str, **claims: Any) -> str:
        authorizer = next(iter(self.jwt.values()))
        now = int(time.time())
        payload = {"sub": sub, "iss": authorizer.issuer, "aud": authorizer.audiences[0], "iat": now, "exp": now + 3600}
        return jwt.encode(payload | claims, self._key, algorithm="RS256", headers={"kid": "local-stack"})

    def _verify_jwt(self, name: str, header: str | None) -> dict[str, Any] | None:
        authorizer = self.jwt[name]
        if not header or not header.lower().startswith("bearer "):
            return None
        try:
            claims: dict[str, Any] = jwt.decode(
                header[7:],
                self._key.public_key(),
                algorithms=["RS256"],
                issuer=authorizer.issuer,
                audience=authorizer.audiences,
                options={"require": ["exp", "iss", "sub"]},
            )
        except jwt.PyJWTError:
            return None
        return claims

    @staticmethod
    def sign(method: str, url: str, body: bytes, headers: dict[str, str] | None = None) -> dict[str, str]:
        request = AWSRequest(method=method, url=url, data=body, headers=headers or {})
        SigV4Auth(Credentials(LOCAL_ACCESS_KEY, LOCAL_SECRET_KEY), "execute-api", REGION).add_auth(request)
        return dict(request.headers.items())

    @staticmethod
    def _verify_sigv4(method: str, url: str, headers: dict[str, str], body: bytes) -> bool:
        authorization = headers.get("authorization", "")
        match = re.match(
            r"AWS4-HMAC-SHA256 Credential=([^/]+)/(\d{8})/([^/]+)/execute-api/aws4_request, "
            r"SignedHeaders=([^,]+), Signature=([0-9a-f]+)$",
            authorization,
        )
        if match is None or match.group(1) != LOCAL_ACCESS_KEY or "x-amz-date" not in headers:
            return False
        signed = match.group(4).split(";")
        request = AWSRequest(method=method, url=url, data=body, headers={h: headers.get(h, "") for h in signed})
        request.context["timestamp"] = headers["x-amz-date"]
        auth = SigV4Auth(Credentials(LOCAL_ACCESS_KEY, LOCAL_SECRET_KEY), "execute-api", match.group(3))
        canonical = auth.canonical_request(request)
        expected = auth.signature(auth.string_to_sign(request, canonical), request)
        return hmac.compare_digest(expected, match.group(5))

    # ------------------------------------------------------------------------------------------------ serving

    def handle(
        self, method: str, raw_path: str, headers: dict[str, str], body: bytes, source_ip: str, host: str
    ) -> tuple[int, dict[str, str], bytes]:
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
            return 404, {"content-type": "application/json"}, b'{"message":"Not Found"}'
        authorizer: dict[str, Any] | None = None
        if route.security == "AWS_IAM":
            if not self._verify_sigv4(method, f"http://{host}{raw_path}", headers, body):
                return 403, {"content-type": "application/json"}, b'{"message":"Forbidden"}'
            authorizer = {
                "iam": {
                    "accessKey": LOCAL_ACCESS_KEY,
                    "accountId": ACCOUNT_ID,
                    "callerId": "AIDALOCALSTACK",
                    "principalOrgId": None,
                    "userArn": f"arn:aws:iam::{ACCOUNT_ID}:user/local-operator",
                    "userId": "AIDALOCALSTACK",
                }
            }
        elif route.security in self.jwt:
            claims = self._verify_jwt(route.security, headers.get("authorization"))
            if claims is None:
                return (
                    401,
                    {"content-type": "application/json", "www-authenticate": "Bearer"},
                    b'{"message":"Unauthorized"}',
                )
            authorizer = {"jwt": {"claims": claims, "scopes": None}}
        event = self._event(method, url.path, url.query, route, parameters, headers, body, source_ip, authorizer)
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
        status, answer_headers, data = self._response(result)
        if self.cors is not None:
            answer_headers = self.cors.answer(origin, answer_headers)
        return status, answer_headers, data

    def _match(self, method: str, path: str) -> tuple[Route | None, dict[str, str]]:
        for route in self.routes:
            found = route.pattern.match(path)
            if found and route.method in (method, "X-AMAZON-APIGATEWAY-ANY-METHOD"):
                return route, found.groupdict()
        return None, {}

    def _event(
        self,
        method: str,
        path: str,
        query: str,
        route: Route,
        parameters: dict[str, str],
        headers: dict[str, str],
        body: bytes,
        source_ip: str,
        authorizer: dict[str, Any] | None,
    ) -> dict[str, Any]:
        now = datetime.now(UTC)
        text: str | None = None
        encoded = False
        if body:
            try:
                text = body.decode()
            except UnicodeDecodeError:
                text, encoded = base64.b64encode(body).decode(), True
        request_context: dict[str, Any] = {
            "accountId": ACCOUNT_ID,
            "apiId": self.api_id,
            "domainName": headers.get("host", "127.0.0.1"),
            "domainPrefix": self.api_id,
            "http": {
                "method": method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": source_ip,
                "userAgent": headers.get("user-agent", ""),
            },
            "requestId": uuid.uuid4().hex[:16],
            "routeKey": f"{route.method} {route.template}",
            "stage": "$default",
            "time": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "timeEpoch": int(now.timestamp() * 1000),
        }
        if authorizer is not None:
            request_context["authorizer"] = authorizer
        query_parameters = {k: ",".join(v) for k, v in parse_qs(query).items()} or None
        event: dict[str, Any] = {
            "version": "2.0",
            "routeKey": f"{route.method} {route.template}",
            "rawPath": path,
            "rawQueryString": query,
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

    @staticmethod
    def _response(result: Any) -> tuple[int, dict[str, str], bytes]:
        # API Gateway's v2 rules: a dict with statusCode is a full response, anything else is a 200 JSON body.
        if isinstance(result, dict) and "statusCode" in result:
            headers = {k.lower(): str(v) for k, v in (result.get("headers") or {}).items()}
            raw = result.get("body") or ""
            data = base64.b64decode(raw) if result.get("isBase64Encoded") else str(raw).encode()
            for cookie in result.get("cookies") or []:
                headers.setdefault("set-cookie", cookie)
            return int(result["statusCode"]), headers, data
        return 200, {"content-type": "application/json"}, json.dumps(result).encode()

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
