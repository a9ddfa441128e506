"""Each role allows what its function was seen to do, and nothing else.

The local stack authorizes every AWS call against the caller's own role (a missing grant fails the test that made
the call); this checks the other side: every action/resource pair of every statement we wrote was used by some call
during the test suite. AWS managed policies that SAM attaches (logs, X-Ray, SQS polling) are AWS's, not checked.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from local_stack.iam.authorizer import Authorizer, Use
from tests.conftest import OBSERVED, ROOT, STACK_SUITES
from tests.template.translated import translated_template

# Grants no test on the local stack reaches, each with why it is kept: a statement (its origin) or one action of it
# ("origin: action").
UNREACHED_BY_DESIGN = {
    "ScheduleUpdatesFunctionSchedulerRole/ScheduleUpdatesFunctionSchedulerSQSPolicy/0": (
        "EventBridge Scheduler sends to the dead-letter queue only when it cannot invoke the function after its "
        "retries (throttling, an outage); the local stack's DLQ path is reached only by a role that may not invoke"
    ),
    "ReconcileStaleUpdatesFunctionReconcilerRole/ReconcileStaleUpdatesFunctionReconcilerSQSPolicy/0": (
        "the reconciler's schedule and its dead-letter queue: as above"
    ),
    "TriggerUpdateFunctionRole/TriggerUpdateFunctionRolePolicy0/IdempotencyTable: dynamodb:getitem": (
        "Powertools reads an idempotency record only when a refused PutItem returned no old item "
        "(ReturnValuesOnConditionCheckFailure answers it on DynamoDB and on moto); its documented permissions "
        "include it"
    ),
    "CollectCredentialsFunctionRole/CollectCredentialsFunctionRolePolicy0/ResumeWorkflow": (
        "an answer that ends the update at once (the bank refused the last round) releases the waiting workflow; "
        "test_too_many_wrong_tans_fail_the_update_with_the_banks_refusal covers it on the fakes"
    ),
    "ReconcileStaleUpdatesFunctionRole/ReconcileStaleUpdatesFunctionRolePolicy0/ResumeWorkflow": (
        "the reconciler hands back the task token an update still holds when its workflow ended while it waited "
        "for the user (AWS answers TaskTimedOut, which is expected); "
        "test_an_open_update_whose_workflow_ended_is_finished_as_stalled covers it on the fakes"
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


def _logical(resolver: Any) -> Callable[[Use], Use]:
    """A stack's use with its physical names (random key ids, secret suffixes) in logical terms, so that what one
    stack granted compares with what any stack of the session used."""
    physical = {str(v): k for k, v in resolver.refs.items() if isinstance(v, str)}
    physical |= {str(v): k for (k, _), v in resolver.attributes.items() if isinstance(v, str)}
    names = sorted(((p, k) for p, k in physical.items() if len(p) >= 12), key=lambda pair: -len(pair[0]))

    def logical(use: Use) -> Use:
        resource = use.resource
        for name, logical_id in names:
            resource = resource.replace(name, f"{{{logical_id}}}")
        return Use(use.origin, use.action, resource)

    return logical


def _whole_suite_ran(request: pytest.FixtureRequest) -> bool:
    ran = {str(Path(item.path).relative_to(ROOT)) for item in request.session.items}
    return all(any(path.startswith(suite) for path in ran) for suite in STACK_SUITES)


@pytest.mark.after_every_stack
def test_every_statement_of_every_role_was_used_and_nothing_was_refused(request: pytest.FixtureRequest) -> None:
    if not _whole_suite_ran(request) or request.session.testsfailed:
        pytest.skip(f"needs every suite that runs a function ({', '.join(STACK_SUITES)}) passing in this session")
    real = [(authorizer, resolver) for template, authorizer, resolver in OBSERVED if template == ROOT / "template.yaml"]
    assert real, "no stack of template.yaml ran"
    # Nothing a function did on the real template was refused
    assert [reason for authorizer, _ in real for reason in authorizer.denied] == []
    # And every action/resource pair we granted was used by some call, in any stack of the session
    used: set[Use] = set()
    for _, authorizer, resolver in OBSERVED:
        logical = _logical(resolver)
        used |= {logical(u) for u in authorizer.used}
    first, first_resolver = real[0]
    granted = {_logical(first_resolver)(u) for u in _granted(first)}
    unused = {
        u
        for u in granted - used
        if u.origin not in UNREACHED_BY_DESIGN and f"{u.origin}: {u.action}" not in UNREACHED_BY_DESIGN
    }
    assert not unused, "granted and never used:\n" + "\n".join(
        sorted(f"{u.origin}: {u.action} on {u.resource}" for u in unused)
    )


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
