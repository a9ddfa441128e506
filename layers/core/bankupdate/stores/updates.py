"""Update records: ``UPDATE#<id>`` / ``UPDATE``.

Beside the record, the item holds workflow internals that never leave the store's callers: the token of the workflow
task waiting on the update (and which task that is), the poll loop that holds the update's polls, and the claim on
an authentication round while someone answers it, and the mark of the last save (a retried save recognises its own
write by it). While an update is open, the item is in
the sparse ``gsi1`` under ``ACTIVE#<shard>`` (sorted by creation), so the stale-update reconciler finds open updates
without a Scan; the terminal write takes it out.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError

from bankupdate.contract import WaitingTask
from bankupdate.domain.model import UpdateRecord, UpdateStatus
from bankupdate.domain.scheduling import shard_of
from bankupdate.ports import StaleUpdate, StoredUpdate
from bankupdate.stores.aws import ServiceClient, is_condition_failure
from bankupdate.stores.items import from_item, to_item, to_value

_RECORD_FIELDS = frozenset(UpdateRecord.model_fields)
_ACTIVE = "ACTIVE#"
_WRITE_ID = "write_id"  # the mark of the last save (a random id): whose write the item holds


def _key(update_id: str) -> dict[str, Any]:
    return {"pk": {"S": f"UPDATE#{update_id}"}, "sk": {"S": "UPDATE"}}


def _callback_key(digest: str) -> dict[str, Any]:
    return {"pk": {"S": f"CALLBACK#{digest}"}, "sk": {"S": "CALLBACK"}}


def _kind(data: dict[str, Any]) -> WaitingTask | None:
    kind = data.get("task_kind")
    return WaitingTask(kind) if kind else None


def _stored(data: dict[str, Any]) -> StoredUpdate:
    record = UpdateRecord.model_validate({k: v for k, v in data.items() if k in _RECORD_FIELDS})
    return StoredUpdate(record, data.get("task_token"), _kind(data))


class DynamoUpdateStore:
    _ddb = ServiceClient("dynamodb")

    def __init__(self, table_name: str, retention: timedelta, shards: int) -> None:
        self._table = table_name
        self._retention = retention
        self._shards = shards

    def _attributes(self, record: UpdateRecord) -> dict[str, Any]:
        data = record.model_dump(mode="json", exclude_none=True)
        data["expiresAt"] = int((record.created_at + self._retention).timestamp())
        if not record.status.is_terminal:
            data["gsi1pk"] = f"{_ACTIVE}{shard_of(record.owner_id, record.connection_id, self._shards)}"
            data["gsi1sk"] = f"{record.created_at.astimezone(UTC).isoformat()}#{record.update_id}"
        return data

    def create(self, record: UpdateRecord) -> bool:
        item = to_item(self._attributes(record)) | _key(record.update_id)
        try:
            self._ddb.put_item(TableName=self._table, Item=item, ConditionExpression="attribute_not_exists(pk)")
        except ClientError as error:
            if is_condition_failure(error):
                return False
            raise
        return True

    def get(self, update_id: str) -> StoredUpdate | None:
        answer = self._ddb.get_item(TableName=self._table, Key=_key(update_id), ConsistentRead=True)
        if "Item" not in answer:
            return None
        return _stored(from_item(answer["Item"]))

    def save(self, record: UpdateRecord, *, expected_version: int) -> StoredUpdate:
        saved = record.model_copy(update={"version": expected_version + 1})
        attributes = self._attributes(saved)
        names = {f"#a{i}": name for i, name in enumerate(attributes)}
        values = {f":v{i}": to_value(value) for i, value in enumerate(attributes.values())}
        assignments = ", ".join(f"#a{i} = :v{i}" for i in range(len(attributes)))
        removable = [f for f in _RECORD_FIELDS if f not in attributes]
        if saved.status.is_terminal:
            # Out of the open-update index, and the workflow's token is of no use any more.
            removable += ["gsi1pk", "gsi1sk", "task_token", "task_kind", "answering_round", "answer_lease_until"]
        names |= {f"#r{i}": name for i, name in enumerate(removable)}
        remove = (" REMOVE " + ", ".join(f"#r{i}" for i in range(len(removable)))) if removable else ""
        names["#version"] = "version"
        values[":expected"] = {"N": str(expected_version)}
        # Each write is marked: a write whose answer was lost (a read timeout) is retried by botocore and then fails
        # its own condition; the item then holds this mark, and the write was ours after all, not a stale one.
        write_id = uuid.uuid4().hex
        names["#write"], values[":write"] = _WRITE_ID, {"S": write_id}
        try:
            # The task parked on the item as this very write found it (a terminal write removes it).
            answer = self._ddb.update_item(
                TableName=self._table,
                Key=_key(record.update_id),
                UpdateExpression=f"SET {assignments}, #write = :write{remove}",
                ConditionExpression="attribute_exists(pk) AND #version = :expected",
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
                ReturnValues="ALL_OLD",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as error:
            if is_condition_failure(error):
                now_stored = from_item(error.response.get("Item", {}))
                if now_stored.get(_WRITE_ID) == write_id:
                    # Landed at the first attempt. The task it found is the one still parked (a terminal write drops
                    # it: its finish then falls back to the token it read).
                    return StoredUpdate(saved, now_stored.get("task_token"), _kind(now_stored))
                raise StaleUpdate(record.update_id) from error
            raise
        before = from_item(answer.get("Attributes", {}))
        return StoredUpdate(saved, before.get("task_token"), _kind(before))

    def park_task_token(self, update_id: str, token: str, *, kind: WaitingTask, while_status: UpdateStatus) -> bool:
        try:
            self._ddb.update_item(
                TableName=self._table,
                Key=_key(update_id),
                UpdateExpression="SET task_token = :token, task_kind = :kind",
                ConditionExpression="attribute_exists(pk) AND #status = :status",
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues={
                    ":token": {"S": token},
                    ":kind": {"S": kind.value},
                    ":status": {"S": while_status.value},
                },
            )
        except ClientError as error:
            if is_condition_failure(error):
                return False
            raise
        return True

    def claim_polls(
        self, update_id: str, *, loop_id: str, previous_loop_id: str | None, token: str, task_entered_at: str
    ) -> StoredUpdate | None:
        # The loop itself may claim again: a retried poll (its first attempt claimed, then failed) goes on.
        again = "(poll_since = :since AND poll_loop = :loop)"
        if previous_loop_id is None:  # the first loop of a Poll task: a later Poll task takes over from an earlier one
            condition = f"attribute_exists(pk) AND (attribute_not_exists(poll_since) OR poll_since < :since OR {again})"
            values: dict[str, Any] = {}
        else:  # a loop continuing its predecessor, of the same Poll task
            condition = f"attribute_exists(pk) AND ((poll_since = :since AND poll_loop = :previous) OR {again})"
            values = {":previous": {"S": previous_loop_id}}
        try:
            answer = self._ddb.update_item(
                TableName=self._table,
                Key=_key(update_id),
                UpdateExpression="SET poll_since = :since, poll_loop = :loop, task_token = :token, task_kind = :kind",
                ConditionExpression=condition,
                ExpressionAttributeValues=values
                | {
                    ":since": {"S": task_entered_at},
                    ":loop": {"S": loop_id},
                    ":token": {"S": token},
                    ":kind": {"S": WaitingTask.POLL.value},
                },
                ReturnValues="ALL_NEW",
            )
        except ClientError as error:
            if is_condition_failure(error):
                return None
            raise
        return _stored(from_item(answer["Attributes"]))

    def claim_round(self, update_id: str, *, auth_round: int, now: datetime, lease: timedelta) -> bool:
        """Only one answer per round reaches finAPI: the first caller claims it, a duplicate is turned away."""
        try:
            self._ddb.update_item(
                TableName=self._table,
                Key=_key(update_id),
                UpdateExpression="SET answering_round = :round, answer_lease_until = :until",
                ConditionExpression=(
                    "auth_round = :round AND "
                    "(attribute_not_exists(answering_round) OR answering_round < :round OR answer_lease_until < :now)"
                ),
                ExpressionAttributeValues={
                    ":round": {"N": str(auth_round)},
                    ":until": {"N": str(int((now + lease).timestamp()))},
                    ":now": {"N": str(int(now.timestamp()))},
                },
            )
        except ClientError as error:
            if is_condition_failure(error):
                return False
            raise
        return True

    def release_round(self, update_id: str, *, auth_round: int) -> None:
        try:
            self._ddb.update_item(
                TableName=self._table,
                Key=_key(update_id),
                UpdateExpression="REMOVE answering_round, answer_lease_until",
                ConditionExpression="answering_round = :round",
                ExpressionAttributeValues={":round": {"N": str(auth_round)}},
            )
        except ClientError as error:
            if not is_condition_failure(error):
                raise

    def open_updates(self, *, created_before: datetime) -> Iterator[str]:
        upper = f"{created_before.astimezone(UTC).isoformat()}#"
        for shard in range(self._shards):
            request: dict[str, Any] = {
                "TableName": self._table,
                "IndexName": "gsi1",
                "KeyConditionExpression": "gsi1pk = :pk AND gsi1sk < :upper",
                "ExpressionAttributeValues": {":pk": {"S": f"{_ACTIVE}{shard}"}, ":upper": {"S": upper}},
            }
            while True:
                answer = self._ddb.query(**request)
                for item in answer.get("Items", []):
                    yield item["pk"]["S"].removeprefix("UPDATE#")
                if "LastEvaluatedKey" not in answer:
                    break
                request["ExclusiveStartKey"] = answer["LastEvaluatedKey"]

    def link_callback(self, token_digest: str, update_id: str, *, expires_at: datetime) -> None:
        self._ddb.put_item(
            TableName=self._table,
            Item=_callback_key(token_digest)
            | {"update_id": {"S": update_id}, "expiresAt": {"N": str(int(expires_at.timestamp()))}},
        )

    def find_by_callback(self, token_digest: str) -> str | None:
        answer = self._ddb.get_item(TableName=self._table, Key=_callback_key(token_digest))
        item = answer.get("Item")
        return item["update_id"]["S"] if item else None
