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

from functools import partial
from typing import Any

from finapi_sandbox.config import StrictModel
from finapi_sandbox.faults import FaultRules
from finapi_sandbox.loopback import Answer, Request, json_answer, route_control
from finapi_sandbox.webform import render
from finapi_sandbox.webform.config import CallbackPolicy, WebFormConfig, WebFormFault
from finapi_sandbox.webform.engine import WebFormEngine
from finapi_sandbox.webform.state import TaskErrorCode


class _ForcedError(StrictModel):
    connectionId: int
    errorCode: TaskErrorCode


def control_answer(engine: WebFormEngine, faults: FaultRules[WebFormFault], request: Request) -> Answer:
    return route_control(request, partial(_route, engine, faults))


def _route(engine: WebFormEngine, faults: FaultRules[WebFormFault], request: Request, body: Any) -> Answer | None:
    method, path = request.method, request.path
    if method == "GET" and path == "/sandbox/callbacks":
        return json_answer(
            200,
            [
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
            ],
        )
    if method == "DELETE" and path == "/sandbox/callbacks":
        engine.callbacks.clear()
        return json_answer(200, {"callbacks": 0})
    if method == "POST" and path == "/sandbox/callbacks/policy":
        engine.callbacks.add_policy(CallbackPolicy.model_validate(body))
        return json_answer(201, {"added": True})
    if method == "GET" and path == "/sandbox/poll-violations":
        violations = engine.poll_violations
        return json_answer(
            200, [{"path": v.path, "gapSeconds": v.gap_seconds, "at": render.timestamp(v.at)} for v in violations]
        )
    if method == "POST" and path == "/sandbox/errors":
        forced = _ForcedError.model_validate(body)
        engine.force_error(forced.connectionId, forced.errorCode)
        return json_answer(201, {"connectionId": forced.connectionId, "errorCode": forced.errorCode})
    if method == "POST" and path == "/sandbox/faults":
        faults.add(WebFormFault.model_validate(body))
        return json_answer(201, {"added": True})
    if method == "DELETE" and path == "/sandbox/faults":
        faults.clear()
        return json_answer(200, {"faults": 0})
    if method == "PATCH" and path == "/sandbox/config":
        _update_config(engine.config, body)
        return json_answer(200, engine.config.model_dump())
    if method == "POST" and path == "/sandbox/reset":
        engine.reset()
        faults.clear()
        return json_answer(200, {"reset": True})
    return None


def _update_config(config: WebFormConfig, changes: dict[str, Any]) -> None:
    """Validate the changed config as a whole, then change the live one in place (the engine holds it)."""
    changed = WebFormConfig.model_validate(config.model_dump() | changes)
    for name in changes:
        setattr(config, name, getattr(changed, name))
