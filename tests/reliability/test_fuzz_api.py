"""Property-based fuzzing of our HTTP API on the local stack: no input produces a 5xx, every 4xx has the documented
error shape, and nothing our validation refuses reaches finAPI. `make reliability` runs 1,000+ cases."""

from __future__ import annotations

import json
import os
from collections import Counter
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import BankUser

RESULTS = Path(__file__).resolve().parents[2] / "bench" / "results"
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "120"))
NASTY = st.sampled_from(
    [
        "",
        " ",
        "0",
        "-1",
        "9" * 40,
        "' OR 1=1 --",
        "<script>",
        "../../etc/passwd",
        "\u0000",
        "\ud7ff" * 3,
        "%00",
        "x" * 5000,
    ]
)
JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=30)
    | NASTY,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=12,
)
TRIGGER_FIELDS = [
    "interface",
    "loginCredentials",
    "storeSecrets",
    "importNewAccounts",
    "skipPositionsDownload",
    "loadOwnerData",
    "accountTypes",
    "accountReferences",
    "redirectUrl",
    "waitForCategorization",
]
ANSWER_FIELDS = ["loginCredentials", "challengeResponse", "twoStepProcedureId", "redirectCallback", "decoupledCallback"]


def bodies(fields: list[str]) -> st.SearchStrategy[Any]:
    known = st.dictionaries(st.sampled_from(fields), JSON, max_size=4)
    return known | JSON


def assert_error_shape(answer: httpx.Response) -> None:
    assert answer.status_code < 500, (answer.status_code, answer.text[:300])
    if answer.status_code >= 400:
        body = answer.json()
        if set(body) == {"message"}:  # API Gateway's own answer (no such route, unauthorized), before our code
            assert answer.status_code in (401, 403, 404), answer.text
            return
        error = body["error"]
        assert (
            isinstance(error["code"], str) and isinstance(error["message"], str) and isinstance(error["details"], dict)
        )


def finapi_updates(sandbox: Any) -> int:
    return sum(1 for c in sandbox.world.calls if c.path.endswith("/update"))


def test_fuzzed_requests_never_crash_and_never_reach_finapi_unvalidated(new_user: Any, sandbox: Any) -> None:
    user: BankUser = new_user()
    connection = user.connections["DEMO0001"]
    update_id = user.api.trigger(
        connection,
        {
            "interface": "XS2A",
            "loginCredentials": [{"label": "Onlinebanking-ID", "value": "demo"}, {"label": "PIN", "value": "demo"}],
        },
    ).json()["updateId"]
    headers_strategy = st.dictionaries(
        st.sampled_from(["PSU-IP-Address", "PSU-Device-OS", "PSU-User-Agent", "Idempotency-Key"]),
        # What an HTTP client can send at all: visible ASCII, inner spaces (h11 refuses leading/trailing ones)
        st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=300).map(str.strip),
        max_size=3,
    )

    @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
    @given(
        route=st.sampled_from(["trigger", "answer", "read"]),
        body=bodies(TRIGGER_FIELDS) | bodies(ANSWER_FIELDS),
        headers=headers_strategy,
        path_id=st.one_of(
            st.just(None),
            st.text(max_size=40).map(lambda text: quote(text, safe="")),
            st.integers(min_value=-(2**70), max_value=2**70).map(str),
        ),
    )
    def one_request(route: str, body: Any, headers: dict[str, str], path_id: str | None) -> None:
        statuses[route] = statuses.get(route, Counter())
        before = finapi_updates(sandbox)
        if route == "trigger":
            target = connection if path_id is None else path_id
            answer = user.api.post_raw(f"/v1/bank-connections/{target}/updates", body, headers)
        elif route == "answer":
            target = update_id if path_id is None else path_id
            answer = user.api.post_raw(f"/v1/updates/{target}/authentication", body, headers)
        else:
            answer = user.api.get_raw(f"/v1/updates/{path_id or update_id}")
        assert_error_shape(answer)
        statuses[route][answer.status_code] += 1
        if answer.status_code == 422 and answer.json()["error"]["code"] == "INVALID_REQUEST":
            assert finapi_updates(sandbox) == before, "a refused request reached finAPI"

    statuses: dict[str, Counter[int]] = {}
    one_request()
    report = {
        "cases": sum(sum(c.values()) for c in statuses.values()),
        "answers_by_route": {route: {str(k): v for k, v in sorted(c.items())} for route, c in statuses.items()},
        "server_errors": sum(n for c in statuses.values() for code, n in c.items() if code >= 500),
    }
    print(json.dumps(report, indent=2))
    if os.environ.get("FUZZ_EXAMPLES"):
        RESULTS.mkdir(parents=True, exist_ok=True)
        (RESULTS / "fuzz.json").write_text(json.dumps(report, indent=2) + "\n")
