"""The DynamoDB request units a call bills, by DynamoDB's rules, from the items as moto's backend holds them.

moto answers ``ReturnConsumedCapacity`` with a constant, so the meter looks at the item before and after each write:

* a write bills ``ceil(max(size before, size after) / 1 KB)`` write units, at least 1, also when its condition fails;
  a transactional write twice that;
* a global secondary index is written when the item enters it (1 write), leaves it (1) or changes its index keys
  (2: delete + put); the table's only index projects keys only, so other attribute changes do not touch it;
* a read bills ``ceil(size / 4 KB)`` read units (at least 1; half for an eventually consistent read), a query the
  size of all items it returned, rounded up per 4 KB.

Item size: attribute names plus values (strings and binaries by their bytes, numbers about one byte per two
significant digits plus one, booleans and nulls 1 byte, lists and maps 3 bytes plus 1 per element).
Source: https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/CapacityUnitCalculations.html and
https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/GSI.html (provisioned throughput considerations).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from local_stack.template import ACCOUNT_ID, REGION

WRITE_UNIT_BYTES = 1024
READ_UNIT_BYTES = 4096
_WRITES = ("PutItem", "UpdateItem", "DeleteItem")


@dataclass(frozen=True)
class Units:
    read: float = 0.0
    write: float = 0.0
    index_write: float = 0.0

    def __add__(self, other: Units) -> Units:
        return Units(self.read + other.read, self.write + other.write, self.index_write + other.index_write)


def value_size(value: dict[str, Any]) -> int:
    """Bytes DynamoDB counts for one attribute value in its JSON form ({"S": ...}, {"N": ...}, ...)."""
    (kind, inner), *_ = value.items()
    if kind == "S":
        return len(str(inner).encode())
    if kind == "B":
        return len(inner if isinstance(inner, bytes) else str(inner).encode())
    if kind == "N":
        digits = str(inner).lstrip("-").replace(".", "").strip("0") or "0"
        return math.ceil(len(digits) / 2) + 1
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "L":
        return 3 + sum(value_size(v) + 1 for v in inner)
    if kind == "M":
        return 3 + sum(len(k.encode()) + value_size(v) + 1 for k, v in inner.items())
    if kind in ("SS", "BS"):
        return sum(len(v if isinstance(v, bytes) else str(v).encode()) for v in inner)
    if kind == "NS":
        return sum(value_size({"N": v}) for v in inner)
    return 0


def item_size(item: dict[str, Any] | None) -> int:
    if not item:
        return 0
    return sum(len(name.encode()) + value_size(value) for name, value in item.items())


def _table(name: str) -> Any:
    from moto.dynamodb.models import dynamodb_backends

    try:
        return dynamodb_backends[ACCOUNT_ID][REGION].get_table(name)
    except Exception:  # not a table of this account and region (or gone): nothing to measure
        return None


def _stored(table_name: str, key: dict[str, Any]) -> dict[str, Any] | None:
    from moto.dynamodb.models.dynamo_type import DynamoType

    table = _table(table_name)
    if table is None:
        return None
    hash_key = DynamoType(key[table.hash_key_attr])
    range_key = DynamoType(key[table.range_key_attr]) if table.range_key_attr else None
    found = table.get_item(hash_key, range_key)
    if found is None:
        return None
    document: dict[str, Any] = found.to_json()["Attributes"]
    return document


def _key_of(table_name: str, item: dict[str, Any]) -> dict[str, Any]:
    table = _table(table_name)
    if table is None:
        return {}
    names = [n for n in (table.hash_key_attr, table.range_key_attr) if n]
    return {n: item[n] for n in names if n in item}


def _targets(operation: str, params: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    """(table, write kind, key) of every item a write touches."""
    if operation in _WRITES:
        table = params["TableName"]
        key = params.get("Key") or _key_of(table, params.get("Item", {}))
        return [(table, operation, key)]
    if operation == "TransactWriteItems":
        found = []
        for entry in params.get("TransactItems", []):
            (kind, body), *_ = entry.items()
            table = body["TableName"]
            found.append((table, kind, body.get("Key") or _key_of(table, body.get("Item", {}))))
        return found
    if operation == "BatchWriteItem":
        found = []
        for table, requests in params.get("RequestItems", {}).items():
            for request in requests:
                if "PutRequest" in request:
                    found.append((table, "Put", _key_of(table, request["PutRequest"]["Item"])))
                else:
                    found.append((table, "Delete", request["DeleteRequest"]["Key"]))
        return found
    return []


def before(operation: str, params: dict[str, Any]) -> list[dict[str, Any] | None] | None:
    """The items a write is about to change, as they are now (None for reads)."""
    targets = _targets(operation, params)
    if not targets:
        return None
    return [_stored(table, key) for table, _, key in targets]


def _index_keys(table_name: str) -> list[tuple[str, ...]]:
    table = _table(table_name)
    if table is None:
        return []
    return [tuple(index.schema_key_attrs) for index in table.global_indexes]


def index_writes(indexes: Sequence[tuple[str, ...]], old: dict[str, Any] | None, new: dict[str, Any] | None) -> float:
    """Writes to keys-only global secondary indexes (``indexes``: each index's key attributes) when an item changes
    from ``old`` to ``new`` (None: absent)."""
    writes = 0.0
    for keys in indexes:
        was = old is not None and all(k in old for k in keys)
        now = new is not None and all(k in new for k in keys)
        if was and now:
            assert old is not None and new is not None
            writes += 2 if any(old[k] != new[k] for k in keys) else 0
        elif was or now:
            writes += 1
    return writes


def write_units(size_before: int, size_after: int) -> float:
    return max(1, math.ceil(max(size_before, size_after) / WRITE_UNIT_BYTES))


def read_units(size: int, *, consistent: bool) -> float:
    units = max(1, math.ceil(size / READ_UNIT_BYTES))
    return float(units) if consistent else units / 2


def consumed(
    operation: str,
    params: dict[str, Any],
    previous: list[dict[str, Any] | None] | None,
    answer: Any,
    *,
    succeeded: bool,
) -> Units:
    """The units one DynamoDB call billed (``previous`` from ``before``; ``answer`` None when the call failed)."""
    if operation == "GetItem":
        item = (answer or {}).get("Item")
        return Units(read=read_units(item_size(item), consistent=bool(params.get("ConsistentRead"))))
    if operation == "Query":
        items = (answer or {}).get("Items", [])
        consistent = bool(params.get("ConsistentRead")) and "IndexName" not in params
        return Units(read=read_units(sum(item_size(i) for i in items), consistent=consistent))
    if operation == "BatchGetItem":
        units = 0.0
        for table, items in ((answer or {}).get("Responses") or {}).items():
            consistent = bool(params["RequestItems"][table].get("ConsistentRead"))
            units += sum(read_units(item_size(i), consistent=consistent) for i in items)
        return Units(read=units)
    targets = _targets(operation, params)
    if not targets or previous is None:
        return Units()
    factor = 2 if operation == "TransactWriteItems" else 1
    total = Units()
    for (table, kind, key), old in zip(targets, previous, strict=True):
        if kind == "ConditionCheck":
            total += Units(read=2 * read_units(item_size(old), consistent=True))
            continue
        new = _stored(table, key) if succeeded else old
        total += Units(
            write=factor * write_units(item_size(old), item_size(new)),
            index_write=factor * index_writes(_index_keys(table), old, new) if succeeded else 0.0,
        )
    return total
