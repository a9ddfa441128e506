"""The finAPI sandbox on loopback: finAPI's endpoints (V1 and V2 at once) plus `/sandbox/...` control endpoints."""

from __future__ import annotations

from finapi_sandbox.config import SandboxConfig
from finapi_sandbox.conformance import ConformanceLog
from finapi_sandbox.controls import control_answer
from finapi_sandbox.exchange import finapi_answer
from finapi_sandbox.loopback import Answer, LoopbackService, Request
from finapi_sandbox.openapi import access_spec
from finapi_sandbox.world import World


class SandboxServer(LoopbackService):
    """``with SandboxServer(SandboxConfig.default()) as sandbox: sandbox.base_url``."""

    thread_name = "finapi-sandbox"

    def __init__(self, config: SandboxConfig | None = None, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self.config = config or SandboxConfig.default()
        access_spec()  # loaded now, so that the first request is not the one that waits for it
        self.world = World(self.config)
        # The exchanges that broke finAPI's spec, when ``config.check_conformance`` is on.
        self.conformance = ConformanceLog() if self.config.check_conformance else None
        super().__init__(self._answer, host, port)
        self.world.base_url = self.base_url

    @property
    def client_id(self) -> str:
        return self.config.client_id

    @property
    def client_secret(self) -> str:
        return self.config.client_secret

    def _answer(self, request: Request) -> Answer:
        if request.path.startswith("/sandbox/"):
            return control_answer(self.world, self.conformance, request)
        return finapi_answer(self.world, self.conformance, request)
