"""`/sandbox/...` on the Web Form port: what tests (or another process) use to steer and inspect the simulator.

| Endpoint | Does |
|---|---|
| `GET /sandbox/callbacks` | every callback handled so far (sent or dropped, with the receiver's status) |
| `DELETE /sandbox/callbacks` | forget them and the policies added at run time |
| `POST /sandbox/callbacks/policy` | `CallbackPolicy`: make the next callbacks late, doubled or lost |
| `GET /sandbox/poll-violations` | reads of one task or web form closer than `min_poll_interval_seconds` |
| `POST /sandbox/errors` | `{"connectionId": 1, "errorCode": "INTERNAL_ERROR"}`: that connection's next task fails so |
| `POST /sandbox/faults`, `DELETE /sandbox/faults` | `WebFormFault` on the Web Form API |
| `PATCH /sandbox/config` | change `WebFormConfig` fields (licence, loopback URLs, unsupported banks, ...) |
| `POST /sandbox/reset` | forget every task, web form, callback and violation |
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, ValidationError

from finapi_sandbox.webform import render
from finapi_sandbox.webform.config import CallbackPolicy, WebFormConfig, WebFormFault
from finapi_sandbox.webform.state import TaskErrorCode

if TYPE_CHECKING:
    from finapi_sandbox.webform.server import _Server


class _ForcedError(BaseModel):
    model_config = ConfigDict(extra="forbid")
    connectionId: int
    errorCode: TaskErrorCode


def handle(server: _Server, method: str, path: str, raw: bytes) -> tuple[int, Any]:
    try:
        body = json.loads(raw) if raw else {}
        return _route(server, method, path, body)
    except (ValidationError, ValueError, KeyError) as error:
        return 400, {"error": str(error)[:500]}


def _route(server: _Server, method: str, path: str, body: Any) -> tuple[int, Any]:
    engine = server.engine
    if method == "GET" and path == "/sandbox/callbacks":
        return 200, [
            {
                "kind": r.kind,
                "taskId": r.task_id,
                "url": r.url,
                "body": r.body,
                "at": render.timestamp(r.at),
                "dropped": r.dropped,
                "status": r.status,
                "error": r.error,
            }
            for r in engine.callbacks.records
        ]
    if method == "DELETE" and path == "/sandbox/callbacks":
        engine.callbacks.clear()
        return 200, {"callbacks": 0}
    if method == "POST" and path == "/sandbox/callbacks/policy":
        engine.callbacks.add_policy(CallbackPolicy.model_validate(body))
        return 201, {"added": True}
    if method == "GET" and path == "/sandbox/poll-violations":
        return 200, [
            {"path": v.path, "gapSeconds": v.gap_seconds, "at": render.timestamp(v.at)} for v in engine.poll_violations
        ]
    if method == "POST" and path == "/sandbox/errors":
        forced = _ForcedError.model_validate(body)
        engine.force_error(forced.connectionId, forced.errorCode)
        return 201, {"connectionId": forced.connectionId, "errorCode": forced.errorCode}
    if method == "POST" and path == "/sandbox/faults":
        server.add_fault(WebFormFault.model_validate(body))
        return 201, {"added": True}
    if method == "DELETE" and path == "/sandbox/faults":
        server.clear_faults()
        return 200, {"faults": 0}
    if method == "PATCH" and path == "/sandbox/config":
        update_config(server.config, body)
        return 200, server.config.model_dump()
    if method == "POST" and path == "/sandbox/reset":
        engine.reset()
        server.clear_faults()
        return 200, {"reset": True}
    return 404, {"error": f"no control endpoint {method} {path}"}


def update_config(config: WebFormConfig, changes: dict[str, Any]) -> None:
    """Validate the changed config as a whole, then change the live one in place (the engine holds it)."""
    changed = WebFormConfig.model_validate(config.model_dump() | changes)
    for name in changes:
        setattr(config, name, getattr(changed, name))
