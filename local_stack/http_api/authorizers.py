"""Local stand-ins for the HTTP API's authorizers: JWT (tokens this stack issues, signed with a key of its own) and
AWS_IAM (SigV4 with the stack's credentials). A request that does not pass gets API Gateway's own answer (401 or 403)
and never reaches the function."""

from __future__ import annotations

import hmac
import re
import time
from dataclasses import dataclass
from typing import Any

import jwt
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from cryptography.hazmat.primitives.asymmetric import rsa

from local_stack.credentials import LOCAL_ACCESS_KEY, LOCAL_SECRET_KEY
from local_stack.frontend import Answer
from local_stack.template import ACCOUNT_ID, REGION

_FORBIDDEN = (403, {"content-type": "application/json"}, b'{"message":"Forbidden"}')
_UNAUTHORIZED = (
    401,
    {"content-type": "application/json", "www-authenticate": "Bearer"},
    b'{"message":"Unauthorized"}',
)
# What API Gateway puts in the event for a request signed with the stack's credentials.
_IAM_CALLER = {
    "accessKey": LOCAL_ACCESS_KEY,
    "accountId": ACCOUNT_ID,
    "callerId": "AIDALOCALSTACK",
    "principalOrgId": None,
    "userArn": f"arn:aws:iam::{ACCOUNT_ID}:user/local-operator",
    "userId": "AIDALOCALSTACK",
}


class Refused(Exception):
    """The authorizer turned the request away: ``answer`` is what API Gateway sends instead of invoking."""

    def __init__(self, answer: Answer) -> None:
        super().__init__(answer[0])
        self.answer = answer


@dataclass
class JwtAuthorizer:
    issuer: str
    audiences: list[str]


def sign(method: str, url: str, body: bytes, headers: dict[str, str] | None = None) -> dict[str, str]:
    """The headers of a request signed with the stack's credentials (what an operator's SigV4 client sends)."""
    request = AWSRequest(method=method, url=url, data=body, headers=headers or {})
    SigV4Auth(Credentials(LOCAL_ACCESS_KEY, LOCAL_SECRET_KEY), "execute-api", REGION).add_auth(request)
    return dict(request.headers.items())


def _signed_by_the_stack(method: str, url: str, headers: dict[str, str], body: bytes) -> bool:
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


class Authorizers:
    """The API's security schemes: its JWT authorizers by name, and AWS_IAM."""

    def __init__(self, security_schemes: dict[str, Any]) -> None:
        self.jwt: dict[str, JwtAuthorizer] = {}
        for name, scheme in security_schemes.items():
            authorizer = scheme.get("x-amazon-apigateway-authorizer", {})
            if authorizer.get("type") == "jwt":
                config = authorizer["jwtConfiguration"]
                audience = config.get("audience") or []
                self.jwt[name] = JwtAuthorizer(config["issuer"], audience if isinstance(audience, list) else [audience])
        self._key = rsa.generate_private_key(public_exponent=65537, key_size=2048)

    def issue_token(self, sub: str, **claims: Any) -> str:
        authorizer = next(iter(self.jwt.values()))
        now = int(time.time())
        payload = {"sub": sub, "iss": authorizer.issuer, "aud": authorizer.audiences[0], "iat": now, "exp": now + 3600}
        return jwt.encode(payload | claims, self._key, algorithm="RS256", headers={"kid": "local-stack"})

    def verify_jwt(self, name: str, header: str | None) -> dict[str, Any] | None:
        """The token's claims if the authorizer ``name`` accepts the Authorization header, else None."""
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

    def context(
        self, security: str | None, method: str, url: str, headers: dict[str, str], body: bytes
    ) -> dict[str, Any] | None:
        """The event's ``requestContext.authorizer`` for a route of this ``security`` (None for an open route);
        Refused if the request does not pass."""
        if security == "AWS_IAM":
            if not _signed_by_the_stack(method, url, headers, body):
                raise Refused(_FORBIDDEN)
            return {"iam": dict(_IAM_CALLER)}
        if security is not None and security in self.jwt:
            claims = self.verify_jwt(security, headers.get("authorization"))
            if claims is None:
                raise Refused(_UNAUTHORIZED)
            return {"jwt": {"claims": claims, "scopes": None}}
        return None
