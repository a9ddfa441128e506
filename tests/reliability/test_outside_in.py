"""The HTTP API tried from outside, as a new team would: requests generated from `docs/openapi.json` alone
(Schemathesis), plus the inputs a generator does not think of (invalid encodings, deep nesting, oversized bodies).

For every case: no 5xx, an error names the problem in the one documented shape, only documented statuses, and
nothing is left locked afterwards. `make test` runs a few hundred cases; `make reliability` runs 2,000 or more
(`OUTSIDE_IN_CASES`) and writes bench/results/outside_in.json.
"""

from __future__ import annotations

import json
import os
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
import schemathesis.specs.openapi.schemas  # now: its lazy import, deep in a worker, hit CPython 3.11's AST bug
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.core import NOT_SET
from schemathesis.generation import GenerationMode

from tests.conftest import BankUser

ROOT = Path(__file__).resolve().parents[2]
DOCUMENT = ROOT / "docs" / "openapi.json"
RESULTS = ROOT / "bench" / "results"
CASES = int(os.environ.get("OUTSIDE_IN_CASES", "300"))
GATEWAY_SHAPES = {401, 403, 404}  # API Gateway answers these itself with {"message"} (no route, no/invalid token)


def assert_named_error(answer: httpx.Response, documented: set[int]) -> None:
    """No 5xx; an error is documented for the route and says what is wrong, in one of the documented shapes."""
    assert answer.status_code < 500, (answer.status_code, answer.text[:300])
    if answer.status_code < 400:
        return
    assert str(answer.status_code) in {str(s) for s in documented} or answer.status_code in GATEWAY_SHAPES, (
        answer.status_code,
        answer.text[:300],
    )
    body = answer.json()
    if set(body) == {"message"}:
        assert answer.status_code in GATEWAY_SHAPES, answer.text
        return
    error = body["error"]
    assert error["code"] and error["message"], body
    assert isinstance(error["details"], dict), body
    assert answer.headers.get("cache-control") == "no-store", answer.headers


def encoded(body: Any) -> bytes:
    """The request body as bytes: negative cases may hold raw bytes (sent as they are) or values JSON lacks."""
    if body is NOT_SET:
        return b""
    if isinstance(body, bytes):
        return body
    return json.dumps(body, default=repr).encode()


def documented_statuses(operation: Any) -> set[int]:
    return {int(code) for code in operation.definition.raw.get("responses", {}) if code.isdigit()}


def test_generated_requests_from_the_published_document(new_user: Any, stack: Any, sandbox: Any) -> None:
    # Given one user with a connection that updates without the user (so started updates end by themselves), an
    # update of theirs, and a second user the admin routes may change at will
    user: BankUser = new_user()
    connection = user.connections["DEMO0001"]
    token = user.api._http.headers["Authorization"]
    started = user.api.trigger(connection, {"interface": "XS2A"})
    assert started.status_code == 202, started.text
    # Half the cases name resources that exist, so generated bodies and queries get past the ownership check
    real = {
        "connectionId": str(connection),
        "updateId": started.json()["updateId"],
        "userId": new_user().sub,
    }
    schema = schemathesis.openapi.from_dict(json.loads(DOCUMENT.read_text()))
    operations = [result.ok() for result in schema.get_all_operations()]  # type: ignore[union-attr]
    statuses: dict[str, Counter[int]] = {}

    def exercise(label: str, operation: Any, documented: set[int]) -> None:
        # Valid and invalid requests alike (Schemathesis' positive and negative modes)
        modes = (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
        cases = st.one_of(*(operation.as_strategy(mode) for mode in modes))

        @settings(
            max_examples=max(20, CASES // len(operations)), deadline=None, suppress_health_check=list(HealthCheck)
        )
        @given(case=cases, existing=st.booleans())
        def one_case(case: Any, existing: bool) -> None:
            if existing and case.path_parameters:
                case.path_parameters = {k: real.get(k, v) for k, v in case.path_parameters.items()}
            request = case.as_transport_kwargs(base_url=stack.api_url)
            headers = {k: v for k, v in request["headers"].items() if v is not None}
            body = encoded(case.body)
            if body:
                headers["content-type"] = "application/json"
            if "/v1/admin/" in request["url"]:
                headers |= stack.admin_headers(request["method"], request["url"], body)
            elif "/v1/webform-callbacks/" not in request["url"]:
                headers["Authorization"] = token
            answer = httpx.request(
                request["method"], request["url"], params=request.get("params"), headers=headers, content=body
            )
            statuses[label][answer.status_code] += 1
            assert_named_error(answer, documented)

        one_case()

    for operation in operations:
        label = f"{operation.method.upper()} {operation.path}"
        statuses[label] = Counter()
        exercise(label, operation, documented_statuses(operation))

    # Then nothing stays locked: every update the fuzzing started has ended and released its connection
    deadline = time.monotonic() + 60
    while user.api.connection(connection).json().get("activeUpdateId") is not None:
        assert time.monotonic() < deadline, "a fuzzed request left the connection locked"
        time.sleep(0.25)
    cases = sum(sum(c.values()) for c in statuses.values())
    report = {
        "cases": cases,
        "server_errors": sum(n for c in statuses.values() for code, n in c.items() if code >= 500),
        "answers_by_route": {route: {str(k): v for k, v in sorted(c.items())} for route, c in statuses.items()},
    }
    print(json.dumps(report, indent=2))
    assert cases >= min(CASES, 9 * 20)
    if os.environ.get("OUTSIDE_IN_CASES"):
        RESULTS.mkdir(parents=True, exist_ok=True)
        (RESULTS / "outside_in.json").write_text(json.dumps(report, indent=2) + "\n")


BODY_ROUTES = [
    ("POST", "/v1/bank-connections/{connection}/updates"),
    ("POST", "/v1/updates/{update}/authentication"),
    ("PUT", "/v1/bank-connections/{connection}/schedule"),
]
RAW_BODIES = {
    # what it is: (raw bytes, content type, expected status, expected code)
    "invalid UTF-8": (b'{"interface": "\xc3\x28"}', "application/json", 400, "MALFORMED_REQUEST"),
    "5,000 levels deep": (b"[" * 5000 + b"]" * 5000, "application/json", 400, "MALFORMED_REQUEST"),
    # (bodies over Lambda's 6 MB invocation limit never reach a function: API Gateway answers those itself)
    "1 MB": (json.dumps({"interface": "x" * 1_000_000}).encode(), "application/json", 413, "PAYLOAD_TOO_LARGE"),
    "not JSON": (b"interface=XS2A", "application/json", 400, "MALFORMED_REQUEST"),
    "form encoded": (b"interface=XS2A", "application/x-www-form-urlencoded", 415, "UNSUPPORTED_MEDIA_TYPE"),
    "lone surrogate": (
        b'{"loginCredentials": [{"label": "PIN", "value": "\\ud800"}], "interface": "XS2A"}',
        "application/json",
        422,
        "INVALID_REQUEST",
    ),
}


@pytest.mark.parametrize("what", sorted(RAW_BODIES))
@pytest.mark.parametrize(("method", "route"), BODY_ROUTES)
def test_bodies_no_generator_produces_get_a_4xx_naming_the_problem(
    new_user: Any, sandbox: Any, method: str, route: str, what: str
) -> None:
    # Given a user waiting in an authentication round (so the answer route has an update to answer)
    user: BankUser = new_user()
    connection = user.connections["DEMO0001"]
    demo = [{"label": "Onlinebanking-ID", "value": "demo"}, {"label": "PIN", "value": "demo"}]
    update = user.api.trigger(connection, {"interface": "XS2A", "loginCredentials": demo}).json()
    calls_before = len(sandbox.world.calls)
    raw, content_type, status, code = RAW_BODIES[what]
    # When a body that no schema describes arrives
    path = route.format(connection=connection, update=update["updateId"])
    answer = user.api._http.request(method, path, content=raw, headers={"content-type": content_type})
    # Then it is the 4xx that names the problem, and nothing reached finAPI or changed
    assert (answer.status_code, answer.json()["error"]["code"]) == (status, code), answer.text[:300]
    assert len(sandbox.world.calls) == calls_before
    assert user.api.update(update["updateId"]).json()["status"] == "AUTHENTICATION_REQUIRED"


def test_a_lone_surrogate_in_a_pin_never_locks_the_connection(new_user: Any) -> None:
    # Given a schema-valid PIN holding a lone surrogate (the finding: 500, then PENDING and 409s for minutes)
    user: BankUser = new_user()
    connection = user.connections["DEMO0001"]
    raw = b'{"interface": "XS2A", "loginCredentials": [{"label": "PIN", "value": "\\ud800"}]}'
    refused = user.api._http.post(
        f"/v1/bank-connections/{connection}/updates", content=raw, headers={"content-type": "application/json"}
    )
    # Then it is a 422 naming the field, no update was recorded, and the next sync starts at once
    assert refused.status_code == 422 and "loginCredentials[0].value" in refused.json()["error"]["message"]
    assert user.api.connection(connection).status_code == 404  # nothing was recorded for the connection
    assert user.api.trigger(connection, {"interface": "XS2A"}).status_code == 202
