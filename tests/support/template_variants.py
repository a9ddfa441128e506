"""Copies of template.yaml with one thing changed, for tests that show what the local stack refuses."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from samtranslator.yaml_helper import yaml_parse

ROOT = Path(__file__).resolve().parents[2]


def template_variant(directory: Path, change: Callable[[dict[str, Any]], None]) -> Path:
    """The template with ``change`` applied, written to ``directory`` (local paths made absolute)."""
    template: dict[str, Any] = copy.deepcopy(yaml_parse((ROOT / "template.yaml").read_text()))
    for resource in template["Resources"].values():
        properties = resource.get("Properties", {})
        for key in ("CodeUri", "ContentUri", "DefinitionUri"):
            if isinstance(properties.get(key), str):
                properties[key] = str((ROOT / properties[key]).resolve())
    change(template)
    path = directory / "template.json"
    path.write_text(json.dumps(template))
    return path


def statements(template: dict[str, Any], function: str) -> list[dict[str, Any]]:
    policies = template["Resources"][function]["Properties"]["Policies"]
    found: list[dict[str, Any]] = next(p["Statement"] for p in policies if "Statement" in p)
    return found


def drop_statement(template: dict[str, Any], function: str, sid: str) -> None:
    kept = [s for s in statements(template, function) if s.get("Sid") != sid]
    assert len(kept) < len(statements(template, function)), f"{function} has no statement {sid}"
    statements(template, function)[:] = kept
