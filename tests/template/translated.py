"""The template after the SAM transform, offline (what CloudFormation would deploy)."""

from __future__ import annotations

import copy
import json
import os
from functools import lru_cache
from pathlib import Path
from typing import Any

from samtranslator.translator.transform import transform
from samtranslator.yaml_helper import yaml_parse

ROOT = Path(__file__).resolve().parents[2]


class _NoManagedPolicies:
    """The translator would ask IAM for managed policy ARNs; the template names none."""

    def load(self) -> dict[str, str]:
        return {}


def _prepare(template: dict[str, Any]) -> dict[str, Any]:
    prepared = copy.deepcopy(template)
    for resource in prepared["Resources"].values():
        properties = resource.get("Properties", {})
        for key in ("CodeUri", "ContentUri"):
            if isinstance(properties.get(key), str):
                properties[key] = f"s3://local-artifacts/{properties[key].strip('/')}.zip"
        if isinstance(properties.get("DefinitionUri"), str):
            properties["Definition"] = json.loads((ROOT / properties.pop("DefinitionUri")).read_text())
    return prepared


@lru_cache(maxsize=1)
def _translated_json() -> str:
    os.environ.setdefault("AWS_DEFAULT_REGION", "eu-central-1")
    sam = yaml_parse((ROOT / "template.yaml").read_text())
    return json.dumps(transform(_prepare(sam), {}, _NoManagedPolicies()))


def translated_template() -> dict[str, Any]:
    result: dict[str, Any] = json.loads(_translated_json())
    return result
