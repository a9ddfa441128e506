"""finAPI's official Web Form 2.0 spec (carried in spec/finapi/) as JSON Schema: every answer and callback body of
the Web Form simulator is checked against it, strictly (a field the spec does not have is an error)."""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from typing import Any

import jsonschema
import yaml

SPEC = Path(__file__).resolve().parents[2] / "spec" / "finapi" / "finapi-webform2-2.430.0-openapi.yaml"


def _to_json_schema(node: Any) -> Any:
    """OpenAPI 3.0 -> JSON Schema: `nullable` becomes a null alternative, refs point at definitions, and objects
    refuse properties the spec does not list."""
    if isinstance(node, list):
        return [_to_json_schema(n) for n in node]
    if not isinstance(node, dict):
        return node
    converted = {k: _to_json_schema(v) for k, v in node.items() if k not in ("nullable", "example", "examples")}
    if "$ref" in converted:
        converted["$ref"] = converted["$ref"].replace("#/components/schemas/", "#/definitions/")
    if "properties" in converted and isinstance(converted["properties"], dict):
        converted.setdefault("additionalProperties", False)
    if node.get("nullable"):
        return {"anyOf": [converted, {"type": "null"}]}
    return converted


@lru_cache(maxsize=1)
def _spec() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(SPEC.read_text())
    return loaded


@lru_cache(maxsize=1)
def _definitions() -> dict[str, Any]:
    definitions: dict[str, Any] = _to_json_schema(_spec()["components"]["schemas"])
    return definitions


def assert_conforms(body: Any, schema_name: str) -> None:
    schema = {"$ref": f"#/definitions/{schema_name}", "definitions": _definitions()}
    errors = sorted(jsonschema.Draft7Validator(schema).iter_errors(body), key=lambda e: list(e.path))
    assert not errors, [f"{schema_name} {list(e.path)}: {e.message}" for e in errors[:5]]


def response_schema(method: str, path: str, status: int) -> str:
    """The schema the spec names for this answer; fails if the spec documents no such answer."""
    for template, operations in _spec()["paths"].items():
        pattern = "^" + re.sub(r"\{[^}]+\}", "[^/]+", template) + "$"
        if re.match(pattern, path) and method.lower() in operations:
            responses = operations[method.lower()]["responses"]
            assert str(status) in responses, f"{method} {template} documents no {status} answer"
            ref = responses[str(status)]["content"]["application/json"]["schema"]["$ref"]
            return str(ref.rsplit("/", 1)[1])
    raise AssertionError(f"the spec has no {method} {path}")


def assert_answer_conforms(method: str, path: str, status: int, body: Any) -> None:
    assert_conforms(body, response_schema(method, path, status))
