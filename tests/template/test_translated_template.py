"""Checks on the translated template: cfn-lint (catches what `sam validate --lint` misses), the ASL, the wiring."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

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


def test_state_machine_definition_lints_clean(tmp_path: Path) -> None:
    definition = json.loads((ROOT / "statemachines" / "update_connection.asl.json").read_text())
    wrapper = {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Resources": {
            "Machine": {
                "Type": "AWS::StepFunctions::StateMachine",
                "Properties": {"RoleArn": "arn:aws:iam::123456789012:role/x", "Definition": definition},
            }
        },
    }
    assert _problems(wrapper, tmp_path / "asl.json") == []


def test_every_state_transition_target_exists_and_every_choice_has_a_default() -> None:
    definition = json.loads((ROOT / "statemachines" / "update_connection.asl.json").read_text())
    states = definition["States"]
    targets = {definition["StartAt"]}
    for name, state in states.items():
        targets |= {state[k] for k in ("Next", "Default") if k in state}
        targets |= {c["Next"] for c in state.get("Choices", [])}
        targets |= {c["Next"] for c in state.get("Catch", [])}
        if state["Type"] == "Choice":
            assert "Default" in state, f"{name} has no Default"
        if state["Type"] == "Task":
            assert state.get("TimeoutSeconds") or state.get("TimeoutSecondsPath"), f"{name} is unbounded"
            assert any("States.ALL" in c["ErrorEquals"] for c in state.get("Catch", [])), f"{name} can escape"
        if state["Type"] == "Wait":
            assert "SecondsPath" in state or "Seconds" in state
    assert targets <= set(states), targets - set(states)
    assert set(states) - targets == set(), f"unreachable: {set(states) - targets}"
    # The execution is bounded by its tasks, not by an execution timeout (which no Catch can see, so Finalize would
    # never run): the supervising task has a timeout and a heartbeat, Finalize a timeout and a bounded Retry, and
    # no state is entered twice (the graph has no cycle).
    supervise = states[definition["StartAt"]]
    assert supervise.get("TimeoutSecondsPath") and supervise.get("HeartbeatSecondsPath")
    assert all(r["MaxAttempts"] <= 6 for s in states.values() for r in s.get("Retry", []))
    assert "TimeoutSeconds" not in definition
    assert _acyclic(states, definition["StartAt"])


def _acyclic(states: dict[str, Any], start: str) -> bool:
    def successors(name: str) -> set[str]:
        state = states[name]
        found = {state[k] for k in ("Next", "Default") if k in state}
        return found | {c["Next"] for c in state.get("Choices", []) + state.get("Catch", [])}

    def visit(name: str, path: frozenset[str]) -> bool:
        return name not in path and all(visit(n, path | {name}) for n in successors(name))

    return visit(start, frozenset())


def test_substitutions_cover_every_placeholder() -> None:
    text = (ROOT / "statemachines" / "update_connection.asl.json").read_text()
    machine = translated_template()["Resources"]["UpdateConnectionStateMachine"]["Properties"]
    substitutions = set(machine["DefinitionSubstitutions"])
    import re

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
