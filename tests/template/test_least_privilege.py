"""Each role allows what its function was seen to do, and nothing else.

The local stack authorizes every AWS call against the caller's own role (a missing grant fails the test that made
the call); this checks the other side: every action/resource pair of every statement we wrote was used by some call
during the test suite. AWS managed policies that SAM attaches (logs, X-Ray, SQS polling) are AWS's, not checked.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from local_stack.iam.authorizer import Authorizer, Use
from tests.conftest import OBSERVED, ROOT, STACK_SUITES
from tests.template.translated import translated_template

# Statements only a failure of AWS itself exercises; each with why no test reaches it.
UNREACHED_BY_DESIGN = {
    "ScheduleUpdatesFunctionSchedulerRole/ScheduleUpdatesFunctionSchedulerSQSPolicy/0": (
        "EventBridge Scheduler sends to the dead-letter queue only when it cannot invoke the function after its "
        "retries (throttling, an outage); the local stack's DLQ path is reached only by a role that may not invoke"
    ),
}
# Actions IAM authorizes on "*" only (no resource-level permissions), and Step Functions' log delivery.
STAR_ONLY_ACTIONS = {"states:SendTaskSuccess", "states:SendTaskFailure", "states:SendTaskHeartbeat"}


def _granted(authorizer: Authorizer) -> set[Use]:
    pairs: set[Use] = set()
    for principal in authorizer.principals.values():
        for statement in principal.statements:
            if "/aws-managed:" in statement.origin or statement.effect != "Allow":
                continue
            pairs |= {Use(statement.origin, a.lower(), r) for a in statement.actions for r in statement.resources}
    return pairs


def _whole_suite_ran(request: pytest.FixtureRequest) -> bool:
    ran = {str(Path(item.path).relative_to(ROOT)) for item in request.session.items}
    return all(any(path.startswith(suite) for path in ran) for suite in STACK_SUITES)


@pytest.mark.after_every_stack
def test_every_statement_of_every_role_was_used_and_nothing_was_refused(request: pytest.FixtureRequest) -> None:
    if not _whole_suite_ran(request) or request.session.testsfailed:
        pytest.skip(f"needs every suite that runs a function ({', '.join(STACK_SUITES)}) passing in this session")
    real = [authorizer for template, authorizer in OBSERVED if template == ROOT / "template.yaml"]
    assert real, "no stack of template.yaml ran"
    # Nothing a function did on the real template was refused
    assert [reason for authorizer in real for reason in authorizer.denied] == []
    # And every action/resource pair we granted was used by some call
    used = set().union(*(authorizer.used for _, authorizer in OBSERVED))
    unused = {u for u in _granted(real[0]) - used if u.origin not in UNREACHED_BY_DESIGN}
    assert sorted(f"{u.origin}: {u.action} on {u.resource}" for u in unused) == []


def _statements(role: dict[str, Any]) -> list[dict[str, Any]]:
    return [s for p in role["Properties"].get("Policies", []) for s in p["PolicyDocument"]["Statement"]]


def _actions(statement: dict[str, Any]) -> set[str]:
    action = statement["Action"]
    return set(action if isinstance(action, list) else [action])


def test_no_wildcard_actions_and_star_resources_only_where_iam_has_no_resource_type() -> None:
    resources = translated_template()["Resources"]
    roles = {k: v for k, v in resources.items() if v["Type"] == "AWS::IAM::Role"}
    for name, role in roles.items():
        for statement in _statements(role):
            assert all(not a.endswith(":*") and a != "*" for a in _actions(statement)), (name, statement)
            if statement["Resource"] != "*":
                continue
            if all(a.startswith("logs:") for a in _actions(statement)):
                # Step Functions log delivery: AWS documents these actions as resource "*" only.
                assert name.endswith("StateMachineRole"), name
            else:
                assert _actions(statement) <= STAR_ONLY_ACTIONS, (name, statement)
