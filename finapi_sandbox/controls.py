"""`/sandbox/...` on the Access port: what tests (or another process) use to seed, steer and inspect the sandbox.

| Endpoint | Does |
|---|---|
| `POST /sandbox/users`, `POST /sandbox/connections` | a finAPI user; a bank connection of theirs |
| `GET /sandbox/connections/{id}` | the connection as the sandbox sees it (statuses, accounts, consent, pending SCA) |
| `GET /sandbox/calls` | every finAPI request so far (never a credential, TAN or token) |
| `GET /sandbox/conformance` | the exchanges that broke finAPI's spec since the last read |
| `POST /sandbox/faults`, `DELETE /sandbox/faults` | `FaultRule` on finAPI's endpoints |
| `POST /sandbox/clock` | move the sandbox's clock (downloads, consents, challenges, the bank's day) |
| `POST /sandbox/reset` | back to the scenario as loaded (users, connections, faults): no tokens, calls, clock offset |
| `POST /sandbox/tokens/expire` | make every access token invalid (as if finAPI revoked them) |
| `/sandbox/bank/{blz}/authorize` | the test bank's page of the redirect approach (`bank_page.py`) |
"""

from __future__ import annotations

import re
from datetime import timedelta
from functools import partial
from typing import Any

from pydantic import Field

from finapi_sandbox import bank_page
from finapi_sandbox.config import FaultRule, StrictModel
from finapi_sandbox.conformance import ConformanceLog
from finapi_sandbox.loopback import Answer, Request, json_answer, route_control
from finapi_sandbox.world import World

_BANK = re.compile(r"^/sandbox/bank/(DEMO000[12])/authorize$")


class _UserIn(StrictModel):
    username: str = Field(min_length=1, max_length=128)
    password: str = Field(min_length=1, max_length=128)


class _ConnectionIn(StrictModel):
    username: str
    bank_blz: str = "DEMO0001"
    stored_pin: bool = False
    consent_days_left: float | None = 90.0
    imported_account_count: int = Field(2, ge=0, le=3)
    download_seconds: float | None = Field(None, ge=0)
    failing_account_indexes: list[int] = []
    user_action_required: bool = False
    legacy_web_form: bool = False


class _ClockIn(StrictModel):
    offset_seconds: float


def control_answer(world: World, conformance: ConformanceLog | None, request: Request) -> Answer:
    bank = _BANK.match(request.path)
    # A browser gets the bank's page; an API client's visit is approved at once (a control route below).
    if bank is not None and (request.method == "POST" or bank_page.wants_page(request.headers.get("Accept", ""))):
        return bank_page.answer(request, bank.group(1))
    return route_control(request, partial(_route, world, conformance))


def _route(world: World, conformance: ConformanceLog | None, request: Request, body: Any) -> Answer | None:
    method, path = request.method, request.path
    if method == "POST" and path == "/sandbox/users":
        user = _UserIn.model_validate(body)
        world.create_user(user.username, user.password)
        return json_answer(201, {"username": user.username})
    if method == "POST" and path == "/sandbox/connections":
        seed = _ConnectionIn.model_validate(body)
        days_left = seed.consent_days_left
        connection_id = world.add_connection(
            seed.username,
            bank_blz=seed.bank_blz,
            stored_pin=seed.stored_pin,
            consent_expires_at=None if days_left is None else world.now() + timedelta(days=days_left),
            imported_account_count=seed.imported_account_count,
            download_seconds=seed.download_seconds,
            failing_account_indexes=seed.failing_account_indexes,
            user_action_required=seed.user_action_required,
            legacy_web_form=seed.legacy_web_form,
        )
        return json_answer(201, world.connection(connection_id))
    if method == "GET" and path.startswith("/sandbox/connections/"):
        return json_answer(200, world.connection(int(path.rsplit("/", 1)[1])))
    if method == "GET" and path == "/sandbox/calls":
        return json_answer(
            200,
            [
                {
                    "method": c.method,
                    "path": c.path,
                    "connectionId": c.connection_id,
                    "psuPresent": c.psu_present,
                    "status": c.status,
                    "at": c.at.isoformat(),
                }
                for c in world.calls
            ],
        )
    if method == "GET" and path == "/sandbox/conformance":
        if conformance is None:
            return json_answer(404, {"error": "conformance checking is off (check_conformance in the scenario)"})
        return json_answer(200, {"checked": conformance.checked, "findings": [str(f) for f in conformance.take()]})
    if method == "POST" and path == "/sandbox/faults":
        world.faults.add(FaultRule.model_validate(body))
        return json_answer(201, {"faults": len(world.faults)})
    if method == "DELETE" and path == "/sandbox/faults":
        world.clear_faults()
        return json_answer(200, {"faults": 0})
    if method == "POST" and path == "/sandbox/clock":
        world.set_clock_offset(_ClockIn.model_validate(body).offset_seconds)
        return json_answer(200, {"now": world.now().isoformat()})
    if method == "POST" and path == "/sandbox/reset":
        world.reset()
        return json_answer(200, {"reset": True})
    if method == "POST" and path == "/sandbox/tokens/expire":
        world.expire_tokens()
        return json_answer(200, {"expired": True})
    if method == "GET" and _BANK.match(path):
        return bank_page.approve_at_once(request.parameters)
    return None
