"""A connection's change log: ``USER#<owner>`` / ``TXSTATE#<connection>`` (where the last look left off),
``USER#<owner>`` / ``CHANGES#<connection>#<seq>`` (what each look found: ids only) and ``USER#<owner>`` /
``CHANGESOF#<update>`` (where an update's changes begin; both gone with the TTL after the retention). A look's
entries, marker and state are written in one transaction, conditional on the state's version, so two looks at once
(a duplicated look message) cannot both count the same transactions."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError

from bankupdate.domain.transactions import ChangeEntry, ScanState
from bankupdate.ports import StaleChanges
from bankupdate.stores.aws import ServiceClient, error_code
from bankupdate.stores.items import from_item, to_item

_SEQ_DIGITS = 12


def _state_key(owner_id: str, connection_id: int) -> dict[str, Any]:
    return {"pk": {"S": f"USER#{owner_id}"}, "sk": {"S": f"TXSTATE#{connection_id}"}}


def _entry_sk(connection_id: int, seq: int) -> str:
    return f"CHANGES#{connection_id}#{seq:0{_SEQ_DIGITS}d}"


def _packed(pairs: Sequence[tuple[int, int]]) -> str:
    """``(account, id)`` pairs as one string, ``account:id,id;account:id`` (a list of number pairs is ~3x the size
    and slower to read)."""
    by_account: dict[int, list[int]] = {}
    for account, transaction in pairs:
        by_account.setdefault(account, []).append(transaction)
    return ";".join(f"{account}:{','.join(map(str, ids))}" for account, ids in by_account.items())


def _unpacked(text: str) -> tuple[tuple[int, int], ...]:
    pairs: list[tuple[int, int]] = []
    for group in filter(None, text.split(";")):
        account, _, ids = group.partition(":")
        pairs += [(int(account), int(i)) for i in ids.split(",") if i]
    return tuple(pairs)


def _entry_of(item: dict[str, Any]) -> ChangeEntry:
    data = from_item(item)
    data |= {"added": _unpacked(data["added"]), "removed": _unpacked(data["removed"])}
    return ChangeEntry.model_validate({k: v for k, v in data.items() if k in ChangeEntry.model_fields})


def _update(
    key: dict[str, Any], attributes: dict[str, Any], condition: str | None, values: dict[str, Any]
) -> dict[str, Any]:
    item = to_item(attributes)
    names = {f"#a{n}": name for n, name in enumerate(item)}
    if condition and "#version" in condition:
        names["#version"] = "version"
    values = values | {f":v{n}": value for n, value in enumerate(item.values())}
    update = {
        "Key": key,
        "UpdateExpression": "SET " + ", ".join(f"#a{n} = :v{n}" for n in range(len(item))),
        "ExpressionAttributeNames": names,
        "ExpressionAttributeValues": values,
    }
    return update | ({"ConditionExpression": condition} if condition else {})


class DynamoChangeLog:
    _ddb = ServiceClient("dynamodb")

    def __init__(self, table_name: str, retention: timedelta) -> None:
        self._table = table_name
        self._retention = retention

    def state(self, owner_id: str, connection_id: int) -> ScanState | None:
        answer = self._ddb.get_item(TableName=self._table, Key=_state_key(owner_id, connection_id), ConsistentRead=True)
        if "Item" not in answer:
            return None
        item = answer["Item"]
        state = ScanState.model_validate_json(item["state"]["S"])
        return state.model_copy(update={"version": int(item["version"]["N"])})

    def record(
        self,
        owner_id: str,
        connection_id: int,
        state: ScanState,
        entries: Sequence[ChangeEntry],
        *,
        expected: int,
        at: datetime,
    ) -> ScanState:
        saved = state.model_copy(update={"version": expected + 1})
        writes = []
        for entry in entries:
            key = {"pk": {"S": f"USER#{owner_id}"}, "sk": {"S": _entry_sk(connection_id, entry.seq)}}
            attributes = entry.model_dump(mode="json", exclude={"added", "removed"}) | {
                "added": _packed(entry.added),
                "removed": _packed(entry.removed),
                "expiresAt": int((entry.recorded_at + self._retention).timestamp()),
            }
            writes.append(
                {"Update": {"TableName": self._table} | _update(key, attributes, "attribute_not_exists(pk)", {})}
            )
        condition, values = "attribute_not_exists(pk)", {}
        if expected:
            condition, values = "#version = :expected", {":expected": {"N": str(expected)}}
        # One JSON string: a nested map of hundreds of ids costs every read and write far more to convert.
        state_attributes = {"state": saved.model_dump_json(exclude={"version"}), "version": saved.version}
        update = _update(_state_key(owner_id, connection_id), state_attributes, condition, values)
        writes.append({"Update": {"TableName": self._table} | update})
        if saved.last_update_id is not None:
            start = entries[0].seq - 1 if entries else saved.head
            key = {"pk": {"S": f"USER#{owner_id}"}, "sk": {"S": f"CHANGESOF#{saved.last_update_id}"}}
            expires = int((at + self._retention).timestamp())
            marker = {"connection_id": connection_id, "position": start, "expiresAt": expires}
            writes.append({"Update": {"TableName": self._table} | _update(key, marker, None, {})})
        try:
            self._ddb.transact_write_items(TransactItems=writes)
        except ClientError as error:
            if error_code(error) == "TransactionCanceledException":
                raise StaleChanges(f"the change log of connection {connection_id} moved on") from error
            raise
        return saved

    def entry(self, owner_id: str, connection_id: int, seq: int) -> ChangeEntry | None:
        key = {"pk": {"S": f"USER#{owner_id}"}, "sk": {"S": _entry_sk(connection_id, seq)}}
        answer = self._ddb.get_item(TableName=self._table, Key=key, ConsistentRead=True)
        return _entry_of(answer["Item"]) if "Item" in answer else None

    def position_of(self, owner_id: str, connection_id: int, update_id: str) -> int | None:
        key = {"pk": {"S": f"USER#{owner_id}"}, "sk": {"S": f"CHANGESOF#{update_id}"}}
        item = self._ddb.get_item(TableName=self._table, Key=key).get("Item")
        if item is None or int(item["connection_id"]["N"]) != connection_id:
            return None
        return int(item["position"]["N"])

    def entries_after(self, owner_id: str, connection_id: int, seq: int, *, limit: int) -> list[ChangeEntry]:
        request: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "pk = :pk AND sk BETWEEN :low AND :high",
            "ExpressionAttributeValues": {
                ":pk": {"S": f"USER#{owner_id}"},
                ":low": {"S": _entry_sk(connection_id, seq + 1)},
                ":high": {"S": _entry_sk(connection_id, 10**_SEQ_DIGITS - 1)},
            },
            "ConsistentRead": True,  # a reader right after a look sees its entries (and never a later one alone)
            "Limit": limit,
        }
        found: list[ChangeEntry] = []
        while len(found) < limit:
            answer = self._ddb.query(**request)
            found += [_entry_of(item) for item in answer.get("Items", [])]
            if "LastEvaluatedKey" not in answer:
                break
            request["ExclusiveStartKey"] = answer["LastEvaluatedKey"]
            request["Limit"] = limit - len(found)
        return found
