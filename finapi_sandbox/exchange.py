"""One request to finAPI's endpoints on its way through the sandbox: its request id, the injected faults, the answer
or finAPI's error for it, and both logs (every call; and, V1 only, what broke finAPI's spec)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from finapi_sandbox import render
from finapi_sandbox.config import FaultRule
from finapi_sandbox.conformance import ConformanceLog, answer_problems, is_v1, request_problems
from finapi_sandbox.faults import delay_or_drop
from finapi_sandbox.loopback import MAX_REQUEST_ID, Answer, Dropped, Request, json_answer
from finapi_sandbox.openapi import Problem
from finapi_sandbox.problems import BadCredentials, FinapiProblem, bad_request
from finapi_sandbox.routes import FinapiCall, connection_id_of, route
from finapi_sandbox.state import Call
from finapi_sandbox.updates import psu_present
from finapi_sandbox.world import World


@dataclass
class _Exchange:
    """What the call log and the conformance log keep of one request."""

    method: str
    path: str
    request_id: str
    problems: list[Problem]
    connection_id: int | None
    psu_present: bool


def finapi_answer(world: World, conformance: ConformanceLog | None, request: Request) -> Answer:
    method, path = request.method, request.path
    headers = {k.lower(): v for k, v in request.headers.items()}
    version = "v2" if path.startswith("/api/v2/") else "v1"
    given_id = request.headers.get("X-Request-Id")
    too_long = given_id is not None and len(given_id) > MAX_REQUEST_ID
    request_id = given_id if given_id and not too_long else render.self_generated_request_id()
    query = request.query_values
    problems = request_problems(method, path, query, headers, request.body) if is_v1(path) else []
    connection_id = connection_id_of(path, request.body)
    exchange = _Exchange(method, path, request_id, problems, connection_id, psu_present(headers))
    try:
        if too_long:
            raise bad_request(f"Header 'X-Request-Id' must have at most {MAX_REQUEST_ID} characters.")
        before = world.fault_for(method, path, connection_id, "before")
        if before is not None:
            _apply_fault(before)
        status, payload = route(world, FinapiCall(method, path, query, headers, request.body, version, problems))
        after = world.fault_for(method, path, connection_id, "after")
        if after is not None:
            _apply_fault(after)
        return _answer(world, conformance, exchange, status, payload)
    except FinapiProblem as problem:
        body = render.error_message(
            problem,
            version=version,
            request_id=request_id,
            endpoint=f"{method} {path}",
            auth_context=f"1/{abs(hash(headers.get('authorization', ''))) % 1000}",
            now=world.now(),
        )
        return _answer(world, conformance, exchange, problem.status, body, problem.headers)
    except BadCredentials as error:
        return _answer(world, conformance, exchange, 401, render.bad_credentials(error))
    except Dropped:
        _record(world, conformance, exchange, 0, [])
        raise


def _answer(
    world: World,
    conformance: ConformanceLog | None,
    exchange: _Exchange,
    status: int,
    payload: Any,
    headers: dict[str, str] | None = None,
) -> Answer:
    answer = json_answer(status, payload, {"X-Request-Id": exchange.request_id} | (headers or {}))
    answered: list[Problem] = []
    if conformance is not None and is_v1(exchange.path):
        lowered = {name.lower(): value for name, value in answer.headers.items()}
        answered = answer_problems(exchange.method, exchange.path, status, lowered, answer.body)
    # Logged before the answer leaves: whoever reads the logs after getting the answer finds it there.
    _record(world, conformance, exchange, status, answered)
    return answer


def _record(
    world: World, conformance: ConformanceLog | None, exchange: _Exchange, status: int, answered: list[Problem]
) -> None:
    world.record_call(
        Call(exchange.method, exchange.path, exchange.connection_id, exchange.psu_present, status, world.now())
    )
    if conformance is not None and is_v1(exchange.path):
        conformance.record(exchange.method, exchange.path, status, exchange.problems, answered)


def _apply_fault(rule: FaultRule) -> None:
    delay_or_drop(rule)
    if rule.lock:
        raise FinapiProblem(423, "LOCKED", "The bank connection is currently being updated.")
    if rule.status is not None:
        raise FinapiProblem(rule.status, "UNEXPECTED_ERROR", "An unexpected error occurred (injected).")
