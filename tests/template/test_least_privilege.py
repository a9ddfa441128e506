"""Each role allows what its function's code can do, and nothing else.

Two sources of what a function does:

* **its code**, read statically (``tests/support/callgraph.py``): every AWS call reachable from its handler, down to
  the adapters' botocore calls, with the resources the code names under the function's own settings. Each must be
  allowed by the function's role, whether or not any test takes the path to it;
* **what the suite saw**: the local stack authorizes every AWS call against the caller's own role (a missing grant
  fails the test that made the call), and remembers which statements allowed which calls.

And the other side: every action/resource pair of every statement we wrote was used by some call the suite made or
the code can make. AWS managed policies that SAM attaches (logs, X-Ray, SQS polling) are AWS's, not checked.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from local_stack.iam.authorizer import Use
from local_stack.offline import PlannedStack
from tests.conftest import ROOT, STACK_SUITES
from tests.support import observed_stacks
from tests.support.template_variants import drop_statement, template_variant
from tests.template.reachable import PARAMETERS, aws_calls, planned, reachable, refusals
from tests.template.translated import translated_template

# Grants neither the code nor any test on the local stack uses, each with why it is kept: a statement (its origin)
# or one action of it ("origin: action").
UNREACHED_BY_DESIGN = {
    "ScheduleUpdatesFunctionSchedulerRole/ScheduleUpdatesFunctionSchedulerSQSPolicy/0": (
        "EventBridge Scheduler sends to the dead-letter queue only when it cannot invoke the function after its "
        "retries (throttling, an outage); the local stack's DLQ path is reached only by a role that may not invoke"
    ),
    "ReconcileStaleUpdatesFunctionReconcilerRole/ReconcileStaleUpdatesFunctionReconcilerSQSPolicy/0": (
        "the reconciler's schedule and its dead-letter queue: as above"
    ),
    "ScheduleUpdatesFunctionRole/ScheduleUpdatesFunctionEventInvokeConfigOnFailureSQSPolicy/0": (
        "Lambda sends a scheduled run that failed its asynchronous retries to the on-failure destination with the "
        "function's role; the local stack invokes scheduled functions synchronously and models no such retries"
    ),
    "ReconcileStaleUpdatesFunctionRole/ReconcileStaleUpdatesFunctionEventInvokeConfigOnFailureSQSPolicy/0": (
        "the reconciler's on-failure destination: as above"
    ),
}
# Actions IAM authorizes on "*" only (no resource-level permissions), and Step Functions' log delivery.
STAR_ONLY_ACTIONS = {"states:SendTaskSuccess", "states:SendTaskFailure", "states:SendTaskHeartbeat"}


@pytest.mark.after_every_stack
def test_every_statement_of_every_role_was_used_and_nothing_was_refused() -> None:
    run = observed_stacks.last_run()
    ran_every_suite = run is not None and all(any(m.startswith(s) for m in run.modules) for s in STACK_SUITES)
    if run is None or not ran_every_suite or run.failed:
        pytest.skip(f"needs a run of every suite that runs a function ({', '.join(STACK_SUITES)}) that passed")
    stacks = observed_stacks.stacks()
    real = [stack for stack in stacks if stack.template == str(ROOT / "template.yaml")]
    assert real, "no stack of template.yaml ran"
    # Nothing a function did on the real template was refused
    assert [reason for stack in real for reason in stack.denied] == []
    # And every action/resource pair we granted was used by some call, in any stack of the run, or is used by a
    # call the code can make
    used: set[Use] = _used_by_the_code().union(*(stack.used for stack in stacks))
    unused = {
        u
        for u in real[0].granted - used
        if u.origin not in UNREACHED_BY_DESIGN and f"{u.origin}: {u.action}" not in UNREACHED_BY_DESIGN
    }
    assert not unused, "granted and never used:\n" + "\n".join(
        sorted(f"{u.origin}: {u.action} on {u.resource}" for u in unused)
    )


def _used_by_the_code() -> set[Use]:
    stack = PlannedStack(ROOT / "template.yaml", PARAMETERS)
    assert list(refusals(stack, reachable())) == []
    logical = observed_stacks.logical_names(stack.resolver)
    return {logical(u) for u in stack.authorizer.used}


def test_every_aws_call_in_a_functions_code_is_granted_to_its_role() -> None:
    # Given what each function's code can do, derived from its handler down to the adapters' botocore calls
    reaches = reachable()
    # (the derivation sees the code: the lock, the idempotency records Powertools keeps, the password's key, the
    # workflow released by whoever finishes an update)
    assert {
        ("TriggerUpdateFunction", "dynamodb", "UpdateItem"),
        ("TriggerUpdateFunction", "dynamodb", "DeleteItem"),
        ("TriggerUpdateFunction", "kms", "Decrypt"),
        ("TriggerUpdateFunction", "states", "SendTaskSuccess"),
        ("AdminFunction", "kms", "Encrypt"),
        ("ReconcileStaleUpdatesFunction", "states", "ListExecutions"),
        ("ScheduleUpdatesFunction", "sqs", "SendMessageBatch"),
    } <= aws_calls(reaches)
    # Then every one of them is allowed by the function's role, whether or not a test takes the path to it
    assert list(refusals(planned(), reaches)) == []


@pytest.mark.parametrize(
    ("function", "sid", "refused"),
    [
        # The grant issue 20 found missing: a trigger that finishes an orphan releases its workflow's task.
        ("TriggerUpdateFunction", "ResumeWorkflow", "states:SendTaskSuccess on *"),
        ("AdminFunction", "UserPasswords", "kms:Encrypt on arn:aws:kms:"),
        ("QueryFunction", "TablesKey", "kms:Decrypt on arn:aws:kms:"),  # DynamoDB decrypts with the caller's role
    ],
)
def test_a_grant_missing_on_any_path_fails_the_check(tmp_path: Path, function: str, sid: str, refused: str) -> None:
    # Given the template with one statement a function's code needs taken out
    variant = template_variant(tmp_path, lambda template: drop_statement(template, function, sid))
    # When the check runs against it
    found = list(refusals(PlannedStack(variant, PARAMETERS), reachable()))
    # Then it names the function, the action, the resource and where the code makes the call
    assert found, "the check let a missing grant through"
    assert all(f.startswith(f"{function}: ") and " via handler:" in f for f in found), found
    assert any(f.startswith(f"{function}: {refused}") for f in found), found


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
