"""An official OpenAPI 3.0 file as a checker: one request or one answer in, the ways it breaks the file out.

OpenAPI 3.0 schemas become JSON Schema (draft 7, whose `$ref` ignores its siblings just as OpenAPI 3.0 does):
`nullable` turns into a null alternative, and every object that lists its properties is closed
(`additionalProperties: false`): a field the spec does not have is a bug in whoever sent it. Problems name where and
which rule, never the offending value (it may be a PIN or a TAN).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import jsonschema
import yaml

ACCESS_SPEC = Path(__file__).resolve().parents[1] / "spec" / "finapi" / "finapi-access-v1.151.1-openapi.yaml"

_OPENAPI_ONLY = ("nullable", "example", "examples", "description", "deprecated", "xml", "externalDocs", "discriminator")
_INTEGER = re.compile(r"^-?\d+$")
_NUMBER = re.compile(r"^-?\d+(\.\d+)?$")


@dataclass(frozen=True)
class Problem:
    """One way a request or answer breaks the spec: where (path, query, header, body, status), which field and rule."""

    location: str
    field: str
    rule: str
    text: str

    def __str__(self) -> str:
        where = f"{self.location} {self.field}".strip()
        return f"{where}: {self.text}"


@dataclass(frozen=True)
class Parameter:
    name: str
    location: str
    required: bool
    schema: dict[str, Any]


@dataclass(frozen=True)
class Answer:
    media: dict[str, dict[str, Any] | None]
    headers: tuple[str, ...]


@dataclass(frozen=True)
class Operation:
    method: str
    template: str
    pattern: re.Pattern[str]
    parameters: tuple[Parameter, ...]
    bodies: dict[str, dict[str, Any] | None]
    body_required: bool
    answers: dict[str, Answer]

    @property
    def name(self) -> str:
        return f"{self.method} {self.template}"


def _format_checker() -> jsonschema.FormatChecker:
    checker = jsonschema.FormatChecker()

    def _bounded(bits: int) -> Any:
        def check(value: object) -> bool:
            return not isinstance(value, int) or -(2 ** (bits - 1)) <= value < 2 ** (bits - 1)

        return check

    checker.checks("int32")(_bounded(32))
    checker.checks("int64")(_bounded(64))
    return checker


_FORMATS = _format_checker()


def to_json_schema(node: Any) -> Any:
    """OpenAPI 3.0 schema -> strict JSON Schema (draft 7)."""
    if isinstance(node, list):
        return [to_json_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    converted = {key: to_json_schema(value) for key, value in node.items() if key not in _OPENAPI_ONLY}
    if "$ref" in converted:
        converted["$ref"] = converted["$ref"].replace("#/components/schemas/", "#/definitions/")
    if "properties" in converted and "additionalProperties" not in converted:
        converted["additionalProperties"] = False
    if node.get("nullable"):
        return {"anyOf": [converted, {"type": "null"}]}
    return converted


def _pattern(template: str) -> re.Pattern[str]:
    parts = re.split(r"(\{[^}]+\})", template)
    regex = "".join(f"(?P<{p[1:-1]}>[^/]+)" if p.startswith("{") else re.escape(p) for p in parts)
    return re.compile(f"^{regex}$")


def _location(path: Any) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _leaves(error: jsonschema.ValidationError) -> list[jsonschema.ValidationError]:
    """The errors that matter: for a nullable field, those of the non-null alternative."""
    if error.validator == "anyOf" and error.context:
        branches = [e for e in error.context if not (e.validator == "type" and e.validator_value == "null")]
        if branches:
            return [leaf for branch in branches for leaf in _leaves(branch)]
    return [error]


def _describe(error: jsonschema.ValidationError, location: str, prefix: str) -> list[Problem]:
    field = _location([*([prefix] if prefix else []), *error.absolute_path])
    rule = str(error.validator)
    if rule == "additionalProperties" and isinstance(error.instance, dict):
        known = set(error.schema.get("properties", {}))
        return [
            Problem(location, _location([*([field] if field else []), key]), "unknown field", "not in the spec")
            for key in sorted(set(error.instance) - known)
        ]
    if rule == "required" and isinstance(error.instance, dict):
        return [
            Problem(location, _location([*([field] if field else []), key]), "required", "required but missing")
            for key in error.validator_value
            if key not in error.instance
        ]
    texts = {
        "type": f"must be of type {error.validator_value}",
        "enum": f"must be one of {error.validator_value}",
        "format": f"must be a valid {error.validator_value}",
        "uniqueItems": "items must be unique",
        "minimum": f"must be >= {error.validator_value}",
        "maximum": f"must be <= {error.validator_value}",
        "maxLength": f"must be at most {error.validator_value} characters",
        "minLength": f"must be at least {error.validator_value} characters",
        "maxItems": f"must have at most {error.validator_value} items",
    }
    return [Problem(location, field, rule, texts.get(rule, f"breaks the rule '{rule}'"))]


class OpenApiSpec:
    """One OpenAPI 3.0 file: its operations, and validation of requests and answers against them."""

    def __init__(self, path: Path) -> None:
        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # the C loader reads the 1 MB file in 0.15 s, not 3 s
        document = yaml.load(path.read_text(encoding="utf-8"), Loader=loader)  # noqa: S506 - a safe loader
        self.title = f"{document['info']['title']} {document['info']['version']}"
        self.definitions: dict[str, Any] = to_json_schema(document.get("components", {}).get("schemas", {}))
        self._components = document.get("components", {})
        self.operations: list[Operation] = []
        for template, item in document["paths"].items():
            shared = item.get("parameters", [])
            for method, operation in item.items():
                if method == "parameters":
                    continue
                self.operations.append(self._operation(method.upper(), template, shared, operation))
        # Literal paths win over templated ones (`/bankConnections/update` before `/bankConnections/{id}`).
        self.operations.sort(key=lambda op: op.template.count("{"))
        # Keyed by identity: every schema lives as long as the spec (operations and `_named` hold them).
        self._validators: dict[int, jsonschema.Draft7Validator] = {}
        self._named: dict[str, dict[str, Any]] = {}

    def _resolve(self, node: dict[str, Any]) -> dict[str, Any]:
        while "$ref" in node and not node["$ref"].startswith("#/components/schemas/"):
            _, _, kind, name = node["$ref"].split("/")
            node = self._components[kind][name]
        return node

    def _operation(self, method: str, template: str, shared: list[Any], raw: dict[str, Any]) -> Operation:
        parameters = tuple(
            Parameter(p["name"], p["in"], bool(p.get("required")), to_json_schema(p.get("schema", {})))
            for p in (self._resolve(p) for p in [*shared, *raw.get("parameters", [])])
        )
        body = self._resolve(raw.get("requestBody", {}))
        bodies = {media: to_json_schema(c.get("schema")) for media, c in body.get("content", {}).items()}
        answers = {}
        for status, declared in raw.get("responses", {}).items():
            answer = self._resolve(declared)
            answers[str(status)] = Answer(
                media={media: to_json_schema(c.get("schema")) for media, c in answer.get("content", {}).items()},
                headers=tuple(answer.get("headers", {})),
            )
        return Operation(method, template, _pattern(template), parameters, bodies, bool(body.get("required")), answers)

    # ------------------------------------------------------------------------------------------------ lookup

    def find(self, method: str, path: str) -> tuple[Operation, dict[str, str]] | None:
        for operation in self.operations:
            if operation.method != method.upper():
                continue
            match = operation.pattern.match(path)
            if match:
                return operation, match.groupdict()
        return None

    def has_path(self, path: str) -> bool:
        return any(op.pattern.match(path) for op in self.operations)

    # ------------------------------------------------------------------------------------------------ validation

    def validate(self, schema: dict[str, Any], instance: Any, *, location: str, prefix: str = "") -> list[Problem]:
        validator = self._validators.get(id(schema))
        if validator is None:
            validator = jsonschema.Draft7Validator({**schema, "definitions": self.definitions}, format_checker=_FORMATS)
            self._validators[id(schema)] = validator
        problems: list[Problem] = []
        for error in validator.iter_errors(instance):
            for leaf in _leaves(error):
                problems += _describe(leaf, location, prefix)
        return problems

    def validate_named(self, name: str, instance: Any) -> list[Problem]:
        """``instance`` against one of the spec's component schemas, e.g. ``ErrorMessage``."""
        schema = self._named.setdefault(name, {"$ref": f"#/definitions/{name}"})
        return self.validate(schema, instance, location="body")

    def check_request(
        self, method: str, path: str, query: dict[str, list[str]], headers: dict[str, str], body: bytes
    ) -> list[Problem]:
        """``headers`` with lower-case names. A request the spec has no operation for is one problem."""
        found = self.find(method, path)
        if found is None:
            return [Problem("operation", f"{method} {path}", "declared", "the spec has no such operation")]
        operation, path_values = found
        problems: list[Problem] = []
        query_names = {p.name for p in operation.parameters if p.location == "query"}
        problems += [
            Problem("query", name, "unknown field", "not in the spec") for name in query if name not in query_names
        ]
        for parameter in operation.parameters:
            if parameter.location == "path":
                raw: list[str] | None = [path_values[parameter.name]] if parameter.name in path_values else None
            elif parameter.location == "query":
                raw = query.get(parameter.name)
            elif parameter.location == "header":
                value = headers.get(parameter.name.lower())
                raw = None if value is None else [value]
            else:
                continue
            if raw is None:
                if parameter.required:
                    problems.append(Problem(parameter.location, parameter.name, "required", "required but missing"))
                continue
            problems += self.validate(
                parameter.schema, _typed(parameter.schema, raw), location=parameter.location, prefix=parameter.name
            )
        return problems + self._check_body(operation, headers, body)

    def _check_body(self, operation: Operation, headers: dict[str, str], body: bytes) -> list[Problem]:
        if not operation.bodies:
            return [Problem("body", "", "declared", "the operation takes no body")] if body else []
        if not body:
            return [Problem("body", "", "required", "required but missing")] if operation.body_required else []
        media = headers.get("content-type", "").split(";")[0].strip().lower()
        if media not in operation.bodies:
            return [Problem("header", "Content-Type", "media type", f"must be one of {sorted(operation.bodies)}")]
        try:
            instance = _parse_body(media, body)
        except ValueError:
            return [Problem("body", "", "syntax", f"is not valid {media}")]
        schema = operation.bodies[media]
        return [] if schema is None else self.validate(schema, instance, location="body")

    def check_answer(self, method: str, path: str, status: int, headers: dict[str, str], body: bytes) -> list[Problem]:
        """An answer to a request the spec has no operation for cannot be checked: no problems (the request had one)."""
        found = self.find(method, path)
        if found is None:
            return []
        operation, _ = found
        answer = operation.answers.get(str(status)) or operation.answers.get("default")
        if answer is None:
            return [Problem("status", str(status), "declared", f"not declared for {operation.name}")]
        problems = [
            Problem("header", name, "required", "declared for this answer but missing")
            for name in answer.headers
            if name.lower() not in headers
        ]
        if not answer.media:
            return problems + ([Problem("body", "", "declared", "this answer has no body")] if body else [])
        media = headers.get("content-type", "").split(";")[0].strip().lower()
        if media not in answer.media:
            return [
                *problems,
                Problem("header", "Content-Type", "media type", f"must be one of {sorted(answer.media)}"),
            ]
        try:
            instance = _parse_body(media, body)
        except ValueError:
            return [*problems, Problem("body", "", "syntax", f"is not valid {media}")]
        schema = answer.media[media]
        return problems + ([] if schema is None else self.validate(schema, instance, location="body"))


def _scalar(schema: dict[str, Any], text: str) -> Any:
    """Path, query and header values arrive as text; the spec types them."""
    kind = schema.get("type")
    if kind == "integer" and _INTEGER.match(text):
        return int(text)
    if kind == "number" and _NUMBER.match(text):
        return float(text)
    if kind == "boolean" and text in ("true", "false"):
        return text == "true"
    return text


def _typed(schema: dict[str, Any], values: list[str]) -> Any:
    if schema.get("type") == "array":
        # finAPI describes its list parameters as "comma-separated"; the spec's `explode: true` repeats the name.
        # Both spellings are finAPI's own words, so both are accepted.
        items = schema.get("items", {})
        return [_scalar(items, part) for value in values for part in value.split(",")]
    if len(values) != 1:
        return values  # given more than once: a list where a scalar belongs
    return _scalar(schema, values[0])


def _parse_body(media: str, body: bytes) -> Any:
    if media == "application/x-www-form-urlencoded":
        form = parse_qs(body.decode("utf-8"), keep_blank_values=True, strict_parsing=False)
        return {key: values[0] if len(values) == 1 else values for key, values in form.items()}
    return json.loads(body)


@cache
def access_spec() -> OpenApiSpec:
    """finAPI Access V1 1.151.1, loaded once per process (about 0.2 s)."""
    return OpenApiSpec(ACCESS_SPEC)
