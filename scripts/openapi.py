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


def build_document() -> dict[str, Any]:
    paths: dict[str, Any] = {}
    schemas: dict[str, Any] = {}
    for app in http_resolvers().values():
        schema = app.get_openapi_schema(title=TITLE, version=VERSION).model_dump(
            mode="json", by_alias=True, exclude_none=True
        )
        for path, operations in schema.get("paths", {}).items():
            paths.setdefault(path, {}).update(operations)
        schemas.update(schema.get("components", {}).get("schemas", {}))
    return {
        "openapi": "3.1.0",
        "info": {
            "title": TITLE,
            "version": VERSION,
            "description": "User routes need a JWT (Authorization: Bearer); /v1/admin routes need AWS IAM (SigV4).",
        },
        "paths": dict(sorted(paths.items())),
        "components": {"schemas": dict(sorted(schemas.items()))},
    }


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
