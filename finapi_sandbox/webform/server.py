"""The Web Form 2.0 simulator on loopback, on a port of its own beside the Access sandbox.

* `/api/...`: the Web Form 2.0 API (`api.py`);
* `/wf/{id}`, `/callback`, `/bank/{blz}/authorize`: what a user's browser sees (`browser.py`);
* `/sandbox/...`: control endpoints for tests (`controls.py`).
"""

from __future__ import annotations

import time
from collections.abc import Callable

from finapi_sandbox.faults import FaultRules
from finapi_sandbox.loopback import Answer, LoopbackService, Request
from finapi_sandbox.server import SandboxServer
from finapi_sandbox.webform.access import AccessClient
from finapi_sandbox.webform.api import api_answer
from finapi_sandbox.webform.browser import browser_answer
from finapi_sandbox.webform.callbacks import CallbackDispatcher
from finapi_sandbox.webform.config import WebFormConfig, WebFormFault
from finapi_sandbox.webform.controls import control_answer
from finapi_sandbox.webform.engine import WebFormEngine
from finapi_sandbox.webform.flow import WebFormFlow


class WebFormServer(LoopbackService):
    """finAPI Web Form 2.0 on loopback, sharing the Access sandbox's world (users, tokens, connections, clock).

    ``with SandboxServer() as access, WebFormServer(access) as web_form: web_form.base_url``
    """

    thread_name = "finapi-webform"

    def __init__(
        self,
        access: SandboxServer,
        config: WebFormConfig | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.config = config or WebFormConfig()
        self.world = access.world
        self.callbacks = CallbackDispatcher(self.config, self.world.now)
        self.engine = WebFormEngine(self.config, AccessClient(access.base_url), self.callbacks, self.world.now)
        self.flow = WebFormFlow(self.engine)
        self.faults: FaultRules[WebFormFault] = FaultRules(self.config.faults)
        super().__init__(self._answer, host, port)
        self.engine.base_url = self.base_url

    def serve_forever(self) -> None:
        self.engine.start()
        super().serve_forever()

    def stop(self) -> None:
        super().stop()
        self.engine.stop()

    def wait_until(self, predicate: Callable[[], bool], timeout: float = 15.0) -> bool:
        """For tests: wait (at most `timeout`) until `predicate` holds; says whether it did."""
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.02)
        return True

    def _answer(self, request: Request) -> Answer:
        if request.path.startswith("/api/"):
            return api_answer(self.engine, self.world, self.faults, request)
        if request.path.startswith("/sandbox/"):
            return control_answer(self.engine, self.faults, request)
        return browser_answer(self.flow, request)
