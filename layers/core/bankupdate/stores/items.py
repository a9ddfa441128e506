"""Conversion between pydantic records (their JSON form) and DynamoDB attribute maps.

Written out rather than taken from ``boto3.dynamodb.types``: importing that module imports boto3 (and s3transfer), a
cold start's ~50 ms of CPU for a few lines of conversion.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any


def _to_dynamo_numbers(value: Any) -> Any:
    # DynamoDB has no float type; round-tripping through JSON turns every float into an exact Decimal.
    return json.loads(json.dumps(value), parse_float=Decimal)


def _number(text: str) -> int | float:
    value = Decimal(text)
    return int(value) if value == value.to_integral_value() else float(value)


def _serialize(value: Any) -> dict[str, Any]:
    if value is None:
        return {"NULL": True}
    if isinstance(value, bool):
        return {"BOOL": value}
    if isinstance(value, int | Decimal):
        return {"N": str(value)}
    if isinstance(value, str):
        return {"S": value}
    if isinstance(value, bytes | bytearray):
        return {"B": bytes(value)}
    if isinstance(value, list | tuple):
        return {"L": [_serialize(v) for v in value]}
    if isinstance(value, dict):
        return {"M": {str(k): _serialize(v) for k, v in value.items()}}
    raise TypeError(f"no DynamoDB type for {type(value).__name__}")


def _deserialize(value: dict[str, Any]) -> Any:
    ((kind, inner),) = value.items()
    if kind in ("S", "B", "BOOL"):
        return inner
    if kind == "N":
        return _number(inner)
    if kind == "NULL":
        return None
    if kind == "L":
        return [_deserialize(v) for v in inner]
    if kind == "M":
        return {k: _deserialize(v) for k, v in inner.items()}
    if kind == "NS":
        return [_number(v) for v in inner]
    if kind in ("SS", "BS"):
        return list(inner)
    raise TypeError(f"unknown DynamoDB type {kind}")


def to_item(attributes: dict[str, Any]) -> dict[str, Any]:
    plain = _to_dynamo_numbers(attributes)
    return {key: _serialize(value) for key, value in plain.items() if value is not None}


def to_value(value: Any) -> Any:
    return _serialize(_to_dynamo_numbers(value))


def from_item(item: dict[str, Any]) -> dict[str, Any]:
    return {key: _deserialize(value) for key, value in item.items()}
