"""Production timing, shrunk by one factor: every duration the template and the settings give (each function's own
environment, the template's parameters, the settings' defaults), and the time limits the local stack enforces for AWS
(Lambda timeouts, API Gateway's 30 s, Express's five minutes, SQS visibility timeouts: ``LocalStack(time_scale=)``)
and Step Functions' Retry intervals, all times the same factor, so the ratios between them are production's.

Two durations cannot shrink. A Wait state counts whole seconds, so a poll gap stays at least one second (the settings'
``POLL_MIN_GAP_SECONDS``); downloads in the slice last long enough that this floor is not what they measure. And the
CPU an invocation needs stays what it is: a cold TriggerUpdate runs 0.5-0.9 s on an idle machine and over 2.8 s on a
loaded two-core CI runner (it outran its timeout scaled by 0.1 there), so the factor keeps the smallest scaled Lambda
budgets (ParkTaskToken's 15 s, the HTTP functions' 25-28 s) well above it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bankupdate.domain.backoff import LoopCost
from bankupdate.settings import Settings
from tests.support.template_variants import template_variant

FACTOR = 0.2
_UNSCALED = frozenset({"POLL_MIN_GAP_SECONDS"})  # whole seconds of a Wait state


def _scaled(value: float, as_int: bool, factor: float) -> str:
    shrunk = value * factor
    return str(max(1, round(shrunk))) if as_int else f"{shrunk:g}"


def _durations(variables: dict[str, Any], factor: float) -> None:
    for name, value in list(variables.items()):
        if not name.endswith(("_SECONDS", "_MINUTES")) or name in _UNSCALED:
            continue
        try:
            number = float(str(value))
        except ValueError:
            continue  # a reference (!Ref ...): a parameter, scaled with the parameters
        variables[name] = _scaled(number, float(str(value)).is_integer(), factor)


def scaled_template(directory: Path, factor: float = FACTOR) -> Path:
    """The template with every duration in a function's environment (and the Globals') times ``factor``."""

    def scale(template: dict[str, Any]) -> None:
        sections = [template.get("Globals", {}).get("Function", {})]
        sections += [r.get("Properties", {}) for r in template["Resources"].values() if r["Type"].endswith("Function")]
        for section in sections:
            _durations(section.get("Environment", {}).get("Variables", {}), factor)

    return template_variant(directory, scale)


def scaled_parameters(template_parameters: dict[str, Any], factor: float = FACTOR) -> dict[str, str]:
    """Every duration parameter's default times ``factor``."""
    found: dict[str, str] = {}
    for name, parameter in template_parameters.items():
        if name.endswith(("Seconds", "Minutes")) and "Default" in parameter:
            found[name] = _scaled(float(parameter["Default"]), True, factor)
    return found


def scaled_settings(template_environments: set[str], factor: float = FACTOR) -> dict[str, str]:
    """The settings' own defaults for durations the template leaves to them, times ``factor``."""
    found: dict[str, str] = {}
    for field in Settings.model_fields.values():
        alias = field.alias or ""
        if not alias.endswith("_SECONDS") or alias in _UNSCALED or alias in template_environments:
            continue
        default = field.default
        if isinstance(default, int | float) and not isinstance(default, bool):
            found[alias] = _scaled(float(default), isinstance(default, int), factor)
    # Unset, the hand-over is the list prices' break-even: a duration too.
    found["POLL_HAND_OVER_GAP_SECONDS"] = f"{LoopCost().break_even_gap_seconds() * factor:g}"
    return found


def environment_names(template: dict[str, Any]) -> set[str]:
    names = set(template.get("Globals", {}).get("Function", {}).get("Environment", {}).get("Variables", {}))
    for resource in template["Resources"].values():
        if resource["Type"].endswith("Function"):
            names |= set(resource.get("Properties", {}).get("Environment", {}).get("Variables", {}))
    return names
