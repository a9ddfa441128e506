"""`/api/...`: the Web Form 2.0 API (create a background update task, read a task, read a web form)."""

from __future__ import annotations

import re
import time
from typing import Any

from finapi_sandbox.faults import FaultRules, delay_or_drop
from finapi_sandbox.loopback import MAX_REQUEST_ID, Answer, Request, bearer_token, json_answer
from finapi_sandbox.webform import render
from finapi_sandbox.webform.config import WebFormFault
from finapi_sandbox.webform.engine import WebFormEngine
from finapi_sandbox.webform.problems import WebFormProblem
from finapi_sandbox.webform.requests import InvalidRequest, parse_task_details
from finapi_sandbox.world import World

_CREATE = "/api/tasks/backgroundUpdate"
_TASK = re.compile(r"^/api/tasks/([^/]+)$")
_WEB_FORM = re.compile(r"^/api/webForms/([^/]+)$")


def api_answer(engine: WebFormEngine, world: World, faults: FaultRules[WebFormFault], request: Request) -> Answer:
    method, path = request.method, request.path
    given_id = request.headers.get("X-Request-Id")
    request_id = given_id or f"selfgen-{time.time_ns()}"
    endpoint = f"{method} {path}"
    echo = {"X-Request-Id": request_id[:MAX_REQUEST_ID]}
    try:
        _apply_fault(faults, method, path)
        if given_id is not None and len(given_id) > MAX_REQUEST_ID:
            raise InvalidRequest([("X-Request-Id", f"must be at most {MAX_REQUEST_ID} characters long")])
        status, payload = _route(engine, world, request)
        return json_answer(status, payload, echo)
    except InvalidRequest as invalid:
        return json_answer(400, render.validation_error(invalid.errors, endpoint, engine.now()), echo)
    except WebFormProblem as problem:
        body = render.error(problem.code, problem.description, endpoint, engine.now())
        return json_answer(problem.status, body, echo)


def _apply_fault(faults: FaultRules[WebFormFault], method: str, path: str) -> None:
    rule = faults.take(method, path)
    if rule is None:
        return
    delay_or_drop(rule)
    if rule.status is not None:
        raise WebFormProblem(500, "INTERNAL_SERVER_ERROR", "An unexpected error occurred (injected).")


def _principal(world: World, request: Request) -> tuple[str, str]:
    token = bearer_token(request.headers.get("Authorization", ""))
    principal = world.tokens.principal_of(token) if token else None
    if principal is None:
        raise WebFormProblem(401, "UNAUTHORIZED", "No valid access token in the request.")
    if principal == "":
        raise WebFormProblem(403, "FORBIDDEN", "This service needs the user's access token, not the client's.")
    return token, principal


def _route(engine: WebFormEngine, world: World, request: Request) -> tuple[int, Any]:
    method, path = request.method, request.path
    if not (path == _CREATE or _TASK.match(path) or _WEB_FORM.match(path)):
        raise WebFormProblem(404, "NOT_FOUND", f"No endpoint {method} {path}.")
    token, principal = _principal(world, request)
    if path == _CREATE:
        if method != "POST":
            raise WebFormProblem(405, "NOT_ALLOWED", f"{method} is not allowed here.")
        details = parse_task_details(request.body, request.headers.get("Content-Type", ""), engine.config)
        task = engine.create_task(token, principal, details)
        with task.lock:
            return 201, render.task(task)
    if method != "GET":
        raise WebFormProblem(405, "NOT_ALLOWED", f"{method} is not allowed here.")
    engine.record_poll(principal, path)
    task_match = _TASK.match(path)
    if task_match:
        found = engine.task_of(principal, task_match.group(1))
        if found is None:
            raise WebFormProblem(404, "NOT_FOUND", "Task not found.")
        with found.lock:
            return 200, render.task(found)
    web_form_match = _WEB_FORM.match(path)
    assert web_form_match is not None
    owner_task = engine.web_form_of(principal, web_form_match.group(1))
    if owner_task is None or owner_task.web_form is None:
        raise WebFormProblem(404, "NOT_FOUND", "Web form not found.")
    with owner_task.lock:
        return 200, render.web_form(owner_task, owner_task.web_form)
