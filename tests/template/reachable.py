"""Each function of a template, with what its code can do (tests/support/callgraph.py) under its own settings."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from bankupdate.settings import Settings
from local_stack.iam.calls import UnmodelledCall, authorizations
from local_stack.offline import PlannedFunction, PlannedStack
from tests.support.callgraph import HOLE, AwsCall, Program, Reach, analyse

ROOT = Path(__file__).resolve().parents[2]
CORE = ROOT / "layers" / "core"
PARAMETERS = {"JwtIssuer": "https://issuer.example", "JwtAudience": "app"}
SETTINGS = "bankupdate.settings.Settings"


@dataclass(frozen=True)
class FunctionReach:
    function: PlannedFunction
    settings: Settings
    reach: Reach


def settings_of(function: PlannedFunction) -> Settings:
    """The function's settings as Lambda would build them: settings.py's defaults under its environment."""
    return Settings.model_validate(function.environment)


def reach_of(stack: PlannedStack) -> dict[str, FunctionReach]:
    program = Program(CORE)
    found = {}
    for logical_id, function in stack.functions.items():
        settings = settings_of(function)
        reach = analyse(program, function.code_dir / "app.py", {SETTINGS: settings})
        found[logical_id] = FunctionReach(function, settings, reach)
    return found


@lru_cache(maxsize=4)
def planned(template: Path = ROOT / "template.yaml", **parameters: str) -> PlannedStack:
    return PlannedStack(template, PARAMETERS | parameters)


@lru_cache(maxsize=4)
def reachable(template: Path = ROOT / "template.yaml") -> dict[str, FunctionReach]:
    """The real template's functions (analysed once per session: the analysis reads the whole code base)."""
    return reach_of(planned(template))


def _filled(value: Any) -> Any:
    """Request parameters with the parts the code leaves open filled in (any id, any owner, any token)."""
    if isinstance(value, str):
        return value.replace(HOLE, "x")
    if isinstance(value, Mapping):
        return {k: _filled(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_filled(v) for v in value]
    return "x" if value is None else value


def refusals(stack: PlannedStack, reaches: Mapping[str, FunctionReach]) -> Iterator[str]:
    """Every AWS call a function's code can make that its role in ``stack`` does not allow (or that cannot be
    authorized at all: an unknown resource)."""
    for logical_id, item in reaches.items():
        function = stack.functions[logical_id]
        principal = stack.principal(function)
        for call in item.reach.aws:
            try:
                needed = authorizations(stack.directory, call.service, call.operation, _filled(dict(call.params)))
            except (UnmodelledCall, KeyError) as error:
                yield f"{logical_id}: {call.service} {call.operation} at {call.where}: no resource known ({error})"
                continue
            for authorization in needed:
                decision = stack.authorizer.decide(principal, authorization)
                if not decision.allowed:
                    request = authorization.request
                    yield (
                        f"{logical_id}: {request.action} on {request.resource} is not granted; the code calls it at "
                        f"{call.where} via {' -> '.join(item.reach.chain(call.frame))}"
                    )


def aws_calls(reaches: Mapping[str, FunctionReach]) -> set[tuple[str, str, str]]:
    return {(logical_id, c.service, c.operation) for logical_id, r in reaches.items() for c in r.reach.aws}


def describe(call: AwsCall) -> str:
    return f"{call.service} {call.operation} {dict(call.params)} at {call.where}"
