"""CORS as HTTP APIs do it, from the API's ``x-amazon-apigateway-cors`` (the template's ``CorsConfiguration``): the
API answers a preflight itself, and puts its own CORS headers on an integration's answer in place of the function's."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from local_stack.frontend import Answer


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

    def preflight(self, origin: str | None) -> Answer:
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
