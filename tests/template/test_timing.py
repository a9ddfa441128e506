"""Every function outlasts what it may wait for: its finAPI time, its AWS calls and its own pauses, with a margin; and
every function behind the HTTP API answers before API Gateway's 30 s (issue 20, item 2).

Computed from ``template.yaml`` (each function's ``Timeout`` and ``Environment``), the settings (``settings.py``'s
defaults under that environment) and the code: which functions can call finAPI, how many finAPI requests and AWS calls
a path through them makes at most, and whether they wait for a finishing update's lock, come from the static call
graph (``tests/support/callgraph.py``), not from a list of function names. The figures (decision D27):

* finAPI: each request waits at most its connect plus read timeout; a path's requests (token fetches, the first-sight
  read, retries, the retry after a 401) are bounded by the use case's finAPI budget (``FINAPI_BUDGET_SECONDS``), which
  the clients enforce (``finapi/budget.py``);
* AWS: ``AWS_CALL_SECONDS`` per call on the longest path, each loop counted once (paging, optimistic-concurrency
  retries): in-region calls take milliseconds (DynamoDB single digits, Step Functions, KMS, SSM and Secrets Manager
  tens), the allowance also covers a first call's TLS handshake;
* the trigger's patience with an update that is finishing (``services/locks.py``), where the code can wait for it;
* ``MARGIN_SECONDS`` for the function's own work (milliseconds measured: ``bench/results/latency.md``, "our CPU").

API Gateway's HTTP API gives an integration at most 30 s ("Amazon API Gateway quotas": maximum integration timeout
for HTTP APIs, 30 seconds), cold start included: a function behind it must end ``COLD_START_SECONDS`` before that
(cold starts measured at 0.4-0.5 s of CPU: ``bench/results/cold_start.md``), or the client gets API Gateway's bare
503 instead of our answer, such as the trigger's 202 for an update finAPI did not confirm in time.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from bankupdate.services.locks import FINISHING_PATIENCE_SECONDS
from local_stack.offline import PlannedStack
from tests.support.callgraph import INF
from tests.support.template_variants import template_variant
from tests.template.reachable import PARAMETERS, FunctionReach, planned, reachable, settings_of

AWS_CALL_SECONDS = 0.2
MARGIN_SECONDS = 1.0
API_GATEWAY_SECONDS = 30.0
COLD_START_SECONDS = 1.5
LOCK_WAIT = "bankupdate.services.locks.ConnectionLocks.take"


def finapi_seconds(item: FunctionReach) -> float:
    """The longest one invocation waits for finAPI: its requests at their timeouts, within the budget."""
    if not item.reach.http:
        return 0.0
    settings = item.settings
    per_request = settings.finapi_connect_timeout_seconds + settings.finapi_timeout_seconds
    requests = item.reach.finapi_requests
    return min(INF if requests == INF else requests * per_request, settings.finapi_budget_seconds)


def worst_case(item: FunctionReach) -> float:
    patience = FINISHING_PATIENCE_SECONDS if LOCK_WAIT in item.reach.functions else 0.0
    return finapi_seconds(item) + item.reach.aws_calls * AWS_CALL_SECONDS + patience + MARGIN_SECONDS


def behind_the_api(stack: PlannedStack) -> set[str]:
    """Functions API Gateway invokes (their resource policy lets it in)."""
    return {
        str(resource["Properties"]["FunctionName"]["Ref"])
        for resource in stack.active.values()
        if resource["Type"] == "AWS::Lambda::Permission"
        and resource["Properties"].get("Principal") == "apigateway.amazonaws.com"
    }


def problems(stack: PlannedStack, reaches: Mapping[str, FunctionReach]) -> Iterator[str]:
    api = behind_the_api(stack)
    for logical_id, item in reaches.items():
        timeout = stack.functions[logical_id].timeout
        worst = worst_case(item)
        if worst > timeout:
            yield (
                f"{logical_id}: Timeout {timeout} s < {worst:.1f} s it may need (finAPI {finapi_seconds(item):g} s, "
                f"{item.reach.aws_calls:g} AWS calls, margin)"
            )
        if logical_id in api and timeout + COLD_START_SECONDS > API_GATEWAY_SECONDS:
            yield f"{logical_id}: Timeout {timeout} s leaves no room for a cold start under API Gateway's 30 s"


def test_every_function_outlasts_its_worst_case_finapi_and_aws_time() -> None:
    # Given each function of the template with what its code can do
    reaches, stack = reachable(), planned()
    # (the derivation finds who calls finAPI: the trigger and the answer route do, the read routes do not)
    calls_finapi = {logical_id for logical_id, item in reaches.items() if item.reach.http}
    assert {"TriggerUpdateFunction", "CollectCredentialsFunction", "AdminFunction"} <= calls_finapi
    assert not calls_finapi & {"QueryFunction", "ConnectionSettingsFunction", "WebFormCallbackFunction"}
    assert {"TriggerUpdateFunction", "QueryFunction"} <= behind_the_api(stack)
    # Then every Lambda timeout holds the worst case, and those behind the API end before API Gateway gives up
    assert list(problems(stack, reaches)) == []


def _trigger(template: dict[str, Any]) -> dict[str, Any]:
    properties: dict[str, Any] = template["Resources"]["TriggerUpdateFunction"]["Properties"]
    return properties


@pytest.mark.parametrize(
    ("change", "found"),
    [
        (lambda t: _trigger(t).update(Timeout=15), "TriggerUpdateFunction: Timeout 15 s <"),
        (lambda t: _trigger(t)["Environment"]["Variables"].pop("FINAPI_BUDGET_SECONDS"), "TriggerUpdateFunction"),
        (lambda t: _trigger(t).update(Timeout=29), "leaves no room for a cold start"),
    ],
    ids=["a short timeout", "the default finAPI budget", "no room under API Gateway"],
)
def test_a_timeout_that_does_not_hold_the_worst_case_fails_the_check(tmp_path: Path, change: Any, found: str) -> None:
    # Given the template with one function's timing made wrong
    stack = PlannedStack(template_variant(tmp_path, change), PARAMETERS)
    # When the check runs: the same code, under that template's timeouts and settings
    reaches = {
        logical_id: FunctionReach(function, settings_of(function), reachable()[logical_id].reach)
        for logical_id, function in stack.functions.items()
    }
    # Then it names the function and what does not fit
    found_problems = list(problems(stack, reaches))
    assert any(found in problem for problem in found_problems), found_problems
