"""Checks on the translated template: cfn-lint (catches what `sam validate --lint` misses), the ASL, the wiring."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from cfnlint.api import lint_all

from tests.template.translated import ROOT, translated_template


def _problems(template: dict[str, Any], path: Path) -> list[str]:
    path.write_text(json.dumps(template))
    matches = lint_all(path.read_text())
    return [f"{m.rule.id} {m.message} ({m.path})" for m in matches if m.rule.id[0] in "EW" and m.rule.id != "W1020"]


def test_translated_template_passes_cfn_lint(tmp_path: Path) -> None:
    # Given the template as CloudFormation will see it (circular dependencies, runtimes, ARNs show up only here)
    problems = _problems(translated_template(), tmp_path / "translated.json")
    # Then cfn-lint finds nothing but SAM's own `Fn::Sub isn't needed` noise (W1020, filtered)
    assert problems == []


MACHINES = {"UpdateConnectionStateMachine": "update_connection", "PollLoopStateMachine": "poll_loop"}
# What DefinitionSubstitutions put in for the linter (the shapes of the real values).
SUBSTITUTED = {
    "Partition": "aws",
    "PollLoopStateMachineArn": "arn:aws:states:eu-central-1:123456789012:stateMachine:poll-loop-6a4b0a1e-56c3",
    "ParkTaskTokenFunctionArn": "arn:aws:lambda:eu-central-1:123456789012:function:stack-ParkTaskToken",
    "PollUpdateStatusFunctionArn": "arn:aws:lambda:eu-central-1:123456789012:function:stack-PollUpdateStatus",
    "FinalizeFunctionArn": "arn:aws:lambda:eu-central-1:123456789012:function:stack-Finalize",
}


def _definition(file: str, substituted: bool = False) -> dict[str, Any]:
    text = (ROOT / "statemachines" / f"{file}.asl.json").read_text()
    if substituted:
        for name, value in SUBSTITUTED.items():
            text = text.replace("${" + name + "}", value)
    loaded: dict[str, Any] = json.loads(text)
    return loaded


@pytest.mark.parametrize("file", sorted(MACHINES.values()))
def test_state_machine_definition_lints_clean(tmp_path: Path, file: str) -> None:
    wrapper = {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Resources": {
            "Machine": {
                "Type": "AWS::StepFunctions::StateMachine",
                "Properties": {
                    "RoleArn": "arn:aws:iam::123456789012:role/x",
                    "Definition": _definition(file, substituted=True),
                },
            }
        },
    }
    assert _problems(wrapper, tmp_path / "asl.json") == []


def _successors(state: dict[str, Any]) -> set[str]:
    found = {state[k] for k in ("Next", "Default") if k in state}
    return found | {c["Next"] for c in state.get("Choices", []) + state.get("Catch", [])}


@pytest.mark.parametrize("file", sorted(MACHINES.values()))
def test_every_transition_target_exists_and_every_choice_has_a_default(file: str) -> None:
    definition = _definition(file)
    states = definition["States"]
    targets = {definition["StartAt"]}
    for name, state in states.items():
        targets |= _successors(state)
        if state["Type"] == "Choice":
            assert "Default" in state, f"{name} has no Default"
        if state["Type"] == "Task" and name != "GiveUp":  # GiveUp is the loop's Catch: when it fails, the loop ends
            assert any("States.ALL" in c["ErrorEquals"] for c in state.get("Catch", [])), f"{name} can escape"
        if state["Type"] == "Wait":
            assert "SecondsPath" in state or "Seconds" in state
    assert targets <= set(states), targets - set(states)
    assert set(states) - targets == set(), f"unreachable: {set(states) - targets}"
    assert all(r["MaxAttempts"] <= 6 for s in states.values() for r in s.get("Retry", []))


def test_every_wait_of_the_update_workflow_is_bounded_and_every_loop_through_it_waits_on_a_bounded_task() -> None:
    # The execution is bounded by its tasks, not by an execution timeout (which no Catch can see, so Finalize would
    # never run): every task has a timeout, the tasks that wait on a token a heartbeat too (but AwaitCallback, whose
    # timeout is the gap), and every way back to Poll passes a bounded task.
    definition = _definition("update_connection")
    states = definition["States"]
    assert "TimeoutSeconds" not in definition
    tasks = {n: s for n, s in states.items() if s["Type"] == "Task"}
    for name, task in tasks.items():
        assert task.get("TimeoutSeconds") or task.get("TimeoutSecondsPath"), f"{name} is unbounded"
        if task["Resource"].endswith(".waitForTaskToken") and name != "AwaitCallback":
            assert task.get("HeartbeatSecondsPath"), f"{name} may wait silently"
    assert states["Poll"]["Resource"].endswith("states:::states:startExecution.waitForTaskToken")

    def cycles_without_a_task(name: str, path: tuple[str, ...]) -> list[tuple[str, ...]]:
        if name in path:
            cycle = path[path.index(name) :]
            return [] if any(states[n]["Type"] == "Task" for n in cycle) else [cycle]
        return [c for n in _successors(states[name]) for c in cycles_without_a_task(n, (*path, name))]

    assert cycles_without_a_task(definition["StartAt"], ()) == []


def test_the_poll_loop_is_express_shaped_wait_poll_decide() -> None:
    # A reader of statemachines/ sees the wait loop: a Wait whose duration the last poll chose, one poll, a Choice
    # that loops back or leaves; no integration Express does not support
    definition = _definition("poll_loop")
    states = definition["States"]
    assert definition["StartAt"] == "Wait"
    assert states["Wait"] == {"Type": "Wait", "SecondsPath": "$.gapSeconds", "Next": "Poll"}
    assert states["Poll"]["Resource"].endswith(":::lambda:invoke") and states["Poll"]["Next"] == "Decide"
    assert {c["Next"] for c in states["Decide"]["Choices"]} == {"Wait", "Continue"}
    assert states["Decide"]["Default"] == "Done"
    assert not any(
        ".waitForTaskToken" in s.get("Resource", "") or ".sync" in s.get("Resource", "") for s in states.values()
    )
    machine = translated_template()["Resources"]["PollLoopStateMachine"]["Properties"]
    assert machine["StateMachineType"] == "EXPRESS"


@pytest.mark.parametrize(("logical_id", "file"), sorted(MACHINES.items()))
def test_substitutions_cover_every_placeholder(logical_id: str, file: str) -> None:
    text = (ROOT / "statemachines" / f"{file}.asl.json").read_text()
    machine = translated_template()["Resources"][logical_id]["Properties"]
    substitutions = set(machine["DefinitionSubstitutions"])
    assert set(re.findall(r"\$\{(\w+)\}", text)) == substitutions


def test_every_function_runs_python313_on_arm64_with_the_core_layer() -> None:
    resources = translated_template()["Resources"]
    functions = {k: v for k, v in resources.items() if v["Type"] == "AWS::Lambda::Function"}
    assert len(functions) >= 8
    for name, function in functions.items():
        properties = function["Properties"]
        assert properties["Runtime"] == "python3.13", name
        assert properties["Architectures"] == ["arm64"], name
        assert len(properties["Layers"]) == 1 and properties["Layers"][0]["Ref"].startswith("CoreLayer"), name
        assert properties["Handler"] == "app.lambda_handler", name


def test_state_table_is_encrypted_recoverable_and_expiring() -> None:
    table = translated_template()["Resources"]["StateTable"]["Properties"]
    assert table["SSESpecification"]["SSEType"] == "KMS"
    assert table["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True
    assert table["TimeToLiveSpecification"] == {"AttributeName": "expiresAt", "Enabled": True}
    assert table["BillingMode"] == "PAY_PER_REQUEST"


def test_http_api_uses_the_jwt_authorizer_with_parameterised_issuer_and_audience() -> None:
    api = translated_template()["Resources"]["HttpApi"]["Properties"]["Body"]
    schemes = api["components"]["securitySchemes"]
    jwt = schemes["UserJwt"]["x-amazon-apigateway-authorizer"]["jwtConfiguration"]
    assert jwt == {"issuer": {"Ref": "JwtIssuer"}, "audience": [{"Ref": "JwtAudience"}]}
    for path, operations in api["paths"].items():
        for method, operation in operations.items():
            expected = "AWS_IAM" if path.startswith("/v1/admin/") else "UserJwt"
            if path.startswith("/v1/webform-callbacks/"):
                expected = "NONE"  # finAPI calls it; the unguessable token in the path is the key
            assert [next(iter(s)) for s in operation["security"]] == [expected], (method, path)
