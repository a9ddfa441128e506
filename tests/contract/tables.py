"""DynamoDB tables as the template defines them (after the SAM transform): keys, indexes and TTL come from there,
so a change to the template's tables reaches the contract suite without anyone copying it."""

from __future__ import annotations

from typing import Any

from tests.template.translated import translated_template

# What a table's items and queries depend on; encryption and backups change nothing a store can observe.
_SHAPE = ("AttributeDefinitions", "KeySchema", "GlobalSecondaryIndexes", "LocalSecondaryIndexes", "BillingMode")


def table_definition(logical_id: str) -> dict[str, Any]:
    resource = translated_template()["Resources"][logical_id]
    assert resource["Type"] == "AWS::DynamoDB::Table", f"{logical_id} is not a table in the template"
    properties: dict[str, Any] = resource["Properties"]
    return properties


def create_table(ddb: Any, logical_id: str, name: str) -> str:
    """Create ``logical_id``'s table under ``name`` on the given DynamoDB client (moto)."""
    properties = table_definition(logical_id)
    ddb.create_table(TableName=name, **{key: properties[key] for key in _SHAPE if key in properties})
    ttl = properties.get("TimeToLiveSpecification")
    if ttl:
        ddb.update_time_to_live(TableName=name, TimeToLiveSpecification=ttl)
    return name
