"""Conversion between pydantic records and DynamoDB attribute maps."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

_SERIALIZER = TypeSerializer()
_DESERIALIZER = TypeDeserializer()


def _to_dynamo_numbers(value: Any) -> Any:
    # DynamoDB has no float type; round-tripping through JSON turns every float into an exact Decimal.
    return json.loads(json.dumps(value), parse_float=Decimal)


def _from_dynamo_numbers(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: _from_dynamo_numbers(v) for k, v in value.items()}
    if isinstance(value, list | set | tuple):
        return [_from_dynamo_numbers(v) for v in value]
    return value


def to_item(attributes: dict[str, Any]) -> dict[str, Any]:
    plain = _to_dynamo_numbers(attributes)
    return {key: _SERIALIZER.serialize(value) for key, value in plain.items() if value is not None}


def to_value(value: Any) -> Any:
    return _SERIALIZER.serialize(_to_dynamo_numbers(value))


def from_item(item: dict[str, Any]) -> dict[str, Any]:
    return {key: _from_dynamo_numbers(_DESERIALIZER.deserialize(value)) for key, value in item.items()}
