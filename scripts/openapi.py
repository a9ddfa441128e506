"""Generate docs/openapi.json from the HTTP functions' resolvers (`python -m scripts.openapi [--check]`).

Each HTTP function owns its routes; the document is their union, so it always matches the code that serves them.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "layers" / "core"))  # the layer's code, as Lambda puts it on the path

from bankupdate.api.documented import HEADERS, SECURITY_SCHEMES  # noqa: E402

DOCUMENT = ROOT / "docs" / "openapi.json"
TITLE = "finAPI bank connection updates"
VERSION = "1.0.0"


def _load(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"openapi_{path.parent.name}_app", path)
    if spec is None or spec.loader is None:
        raise RuntimeError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def http_resolvers() -> dict[str, APIGatewayHttpResolver]:
    found = {}
    for path in sorted((ROOT / "functions").glob("*/app.py")):
        app = getattr(_load(path), "app", None)
        if isinstance(app, APIGatewayHttpResolver):
            found[path.parent.name] = app
    return found


DESCRIPTION = """\
Keeps a user's bank connections fresh through finAPI. A front end needs four things:

* **Sign-in**: user routes take the operator's end-user JWT as `Authorization: Bearer` (scheme `userJwt`); the
  `/v1/admin` routes take AWS SigV4 (scheme `operatorSigV4`); finAPI's web form callbacks take nothing but the
  unguessable token in their path. API Gateway refuses a missing or bad credential itself, with its own body
  `{"message":"Unauthorized"}` (401) or `{"message":"Forbidden"}` (403); every other answer that is not a success
  has the one shape `{"error": {"code", "message", "details"}}`, whose details always carry `userMessage`,
  `retryable` and `userActionRequired`.
* **Sync now**: `POST /v1/bank-connections/{connectionId}/updates` answers 202 with `Location: /v1/updates/{id}`.
  A 409 UPDATE_ALREADY_RUNNING names the running update in `details.updateId`; 409 and 429 carry `Retry-After`
  (seconds) whenever waiting helps.
* **The bank's questions**: while `status` is AUTHENTICATION_REQUIRED, `authentication.status` says what to show
  and `authentication.answerField` the one field to send to `POST /v1/updates/{updateId}/authentication`.
  `previousAnswerRejected` marks a wrong TAN or wrong credentials and `message` is the bank's own text;
  `roundsLeft` counts this update's remaining authentication rounds, not the attempts the bank allows. For the
  redirect approach, give `redirectUrl` when starting the update, send the user to `authentication.redirectUrl`,
  and post what the bank sent them back with as `redirectCallback` (the full URL or its query string).
* **The outcome**: poll `GET /v1/updates/{updateId}` until SUCCEEDED (`result.accounts`, new ones with
  `newAccount: true`), FAILED or EXPIRED (`error` with the user's remedy).

Every answer carries `Cache-Control: no-store` and `X-Content-Type-Options: nosniff`. More in docs/api.md.
"""


def _prune(document: dict[str, Any]) -> None:
    """Drop the component schemas nothing refers to: Powertools adds its own validation error schemas to every
    document, but our 422 body is ErrorResponse."""
    schemas = document["components"]["schemas"]
    while True:
        text = json.dumps(document["paths"]) + json.dumps(schemas)
        unused = [name for name in schemas if f'"#/components/schemas/{name}"' not in text]
        if not unused:
            return
        for name in unused:
            del schemas[name]


def _integer_bounds(node: Any) -> None:
    """Bounds of integer schemas as the integers they are, inclusive: Powertools keeps every bound as a float
    (``2**63 - 1`` became ``9.223372036854776e+18``, which is 2**63, an id the service refuses). The handlers declare
    bounds a float holds exactly (``bankupdate.api.models.ID_END``); for integers ``exclusiveMaximum: n`` is
    ``maximum: n - 1``, the form int64 clients read."""
    if isinstance(node, dict):
        if node.get("type") == "integer":
            for key in ("minimum", "exclusiveMinimum", "maximum", "exclusiveMaximum"):
                value = node.get(key)
                if isinstance(value, float):
                    if not value.is_integer():
                        raise ValueError(f"integer schema with the bound {key}={value}")
                    node[key] = int(value)
            for key, inclusive, step in (("exclusiveMinimum", "minimum", 1), ("exclusiveMaximum", "maximum", -1)):
                if key in node:
                    node[inclusive] = node.pop(key) + step
        for value in node.values():
            _integer_bounds(value)
    elif isinstance(node, list):
        for value in node:
            _integer_bounds(value)


def _finish_operations(paths: dict[str, Any]) -> None:
    for operations in paths.values():
        for operation in operations.values():
            # Powertools leaves out an empty requirement; say explicitly that no credential is needed.
            operation.setdefault("security", [])
            for status, response in operation["responses"].items():
                if status == "204":
                    response.pop("content", None)  # Powertools documents the handler's `None` as a JSON body


def build_document() -> dict[str, Any]:
    paths: dict[str, Any] = {}
    schemas: dict[str, Any] = {}
    for app in http_resolvers().values():
        schema = app.get_openapi_schema(
            title=TITLE,
            version=VERSION,
            security_schemes=SECURITY_SCHEMES,  # type: ignore[arg-type]  # plain dicts; Powertools validates them
        ).model_dump(mode="json", by_alias=True, exclude_none=True)
        for path, operations in schema.get("paths", {}).items():
            paths.setdefault(path, {}).update(operations)
        schemas.update(schema.get("components", {}).get("schemas", {}))
    _finish_operations(paths)
    _integer_bounds(paths)
    _integer_bounds(schemas)
    document = {
        "openapi": "3.1.0",
        "info": {"title": TITLE, "version": VERSION, "description": DESCRIPTION},
        "paths": dict(sorted(paths.items())),
        "components": {
            "schemas": dict(sorted(schemas.items())),
            "headers": HEADERS,
            "securitySchemes": SECURITY_SCHEMES,
        },
    }
    _prune(document)
    return document


def render() -> str:
    return json.dumps(build_document(), indent=2, sort_keys=False) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="fail if docs/openapi.json is not up to date")
    args = parser.parse_args()
    text = render()
    if args.check:
        if not DOCUMENT.exists() or DOCUMENT.read_text() != text:
            print("docs/openapi.json is out of date: run `make openapi`", file=sys.stderr)
            return 1
        return 0
    DOCUMENT.write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
