"""The template's HTTP API served on loopback at the stack's API port, and the reference front end beside it (local
only): at the API's root, or on an origin of its own that calls the API across origins."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from local_stack.frontend import FrontEnd, LocalSite, SiteServer
from local_stack.http_api.gateway import HttpApi


class ApiHosting:
    def __init__(
        self,
        port: int,
        time_scale: float,
        front_end: FrontEnd | None,
        invoke: Callable[[str, dict[str, Any], float], Any],
        may_invoke: Callable[[str, str], bool],
    ) -> None:
        """``invoke`` a function by its ARN, the caller waiting so many seconds; ``may_invoke``: whether a function's
        resource policy lets API Gateway in for a route (the function's ARN, the route's ARN)."""
        self._port = port
        self._time_scale = time_scale
        self._front_end = front_end
        self._invoke = invoke
        self._may_invoke = may_invoke
        self._apis: list[HttpApi] = []
        self._sites: list[SiteServer] = []
        self.api_url = ""
        self.front_end_url = ""  # where the front end is served when it has an origin of its own

    def serve(self, body: dict[str, Any]) -> None:
        """Serve an API from its OpenAPI body (resolved)."""
        api = HttpApi(body, "localapi", self._invoke, self._may_invoke, self._time_scale)
        front_end = self._front_end
        if front_end is not None and front_end.port is None:
            api.site = LocalSite(front_end, api.issue_token)
        port = api.serve("127.0.0.1", self._port)
        self._apis.append(api)
        if not self.api_url:
            self.api_url = f"http://127.0.0.1:{port}"
        if front_end is not None and front_end.port is not None and not self.front_end_url:
            # The front end on an origin of its own, calling this API across origins (AllowedOrigins, CORS).
            site = SiteServer(LocalSite(front_end, api.issue_token, api_origin=self.api_url))
            self.front_end_url = site.serve("127.0.0.1", front_end.port)
            self._sites.append(site)

    def issue_token(self, sub: str, **claims: Any) -> str:
        """A token the first API's JWT authorizer accepts."""
        return self._apis[0].issue_token(sub, **claims)

    def stop(self) -> None:
        for api in self._apis:
            api.stop()
        for site in self._sites:
            site.stop()
