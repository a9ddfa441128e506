"""Update records: ``UPDATE#<id>`` / ``UPDATE``.

Beside the record, the item holds workflow internals that never leave this module's callers: the task token of the
authentication round the workflow waits in, and the claim on a round while someone answers it.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError

from bankupdate.domain.model import UpdateRecord
from bankupdate.stores.aws import client
from bankupdate.stores.items import from_item, to_item, to_value
from bankupdate.stores.records import StaleUpdate, StoredUpdate

__all__ = ["StaleUpdate", "StoredUpdate", "UpdateRepository"]

_RECORD_FIELDS = frozenset(UpdateRecord.model_fields)


def _key(update_id: str) -> dict[str, Any]:
    return {"pk": {"S": f"UPDATE#{update_id}"}, "sk": {"S": "UPDATE"}}


def _is_condition_failure(error: ClientError) -> bool:
    return bool(error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException")


class UpdateRepository:
    def __init__(self, table_name: str, retention: timedelta) -> None:
        self._table = table_name
        self._retention = retention
        self._ddb = client("dynamodb")

    def _attributes(self, record: UpdateRecord) -> dict[str, Any]:
        data = record.model_dump(mode="json", exclude_none=True)
        data["expiresAt"] = int((record.created_at + self._retention).timestamp())
        return data

    def create(self, record: UpdateRecord) -> None:
        item = to_item(self._attributes(record)) | _key(record.update_id)
        self._ddb.put_item(TableName=self._table, Item=item, ConditionExpression="attribute_not_exists(pk)")

    def create_if_absent(self, record: UpdateRecord) -> bool:
        try:
            self.create(record)
        except ClientError as error:
            if _is_condition_failure(error):
                return False
            raise
        return True

    def get(self, update_id: str) -> StoredUpdate | None:
        answer = self._ddb.get_item(TableName=self._table, Key=_key(update_id), ConsistentRead=True)
        if "Item" not in answer:
            return None
        data = from_item(answer["Item"])
        record = UpdateRecord.model_validate({k: v for k, v in data.items() if k in _RECORD_FIELDS})
        return StoredUpdate(record, data.get("task_token"), data.get("task_token_round"))

    def save(self, record: UpdateRecord, *, expected_version: int, drop_task_token: bool = False) -> UpdateRecord:
        """Write ``record`` if nobody wrote since ``expected_version``; the stored version becomes one higher."""
        saved = record.model_copy(update={"version": expected_version + 1})
        attributes = self._attributes(saved)
        names = {f"#a{i}": name for i, name in enumerate(attributes)}
        values = {f":v{i}": to_value(value) for i, value in enumerate(attributes.values())}
        assignments = ", ".join(f"#a{i} = :v{i}" for i in range(len(attributes)))
        removable = [f for f in _RECORD_FIELDS if f not in attributes]
        if drop_task_token:
            removable += ["task_token", "task_token_round"]
        names |= {f"#r{i}": name for i, name in enumerate(removable)}
        remove = (" REMOVE " + ", ".join(f"#r{i}" for i in range(len(removable)))) if removable else ""
        names["#version"] = "version"
        values[":expected"] = {"N": str(expected_version)}
        try:
            self._ddb.update_item(
                TableName=self._table,
                Key=_key(record.update_id),
                UpdateExpression=f"SET {assignments}{remove}",
                ConditionExpression="attribute_exists(pk) AND #version = :expected",
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
            )
        except ClientError as error:
            if _is_condition_failure(error):
                raise StaleUpdate(record.update_id) from error
            raise
        return saved

    def park_task_token(self, update_id: str, *, token: str, auth_round: int) -> bool:
        """Remember the token the workflow waits on for ``auth_round``; False if that round is over already."""
        try:
            self._ddb.update_item(
                TableName=self._table,
                Key=_key(update_id),
                UpdateExpression="SET task_token = :token, task_token_round = :round",
                ConditionExpression="attribute_exists(pk) AND auth_round = :round AND #status = :waiting",
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues={
                    ":token": {"S": token},
                    ":round": {"N": str(auth_round)},
                    ":waiting": {"S": "AUTHENTICATION_REQUIRED"},
                },
            )
        except ClientError as error:
            if _is_condition_failure(error):
                return False
            raise
        return True

    def claim_round(self, update_id: str, *, auth_round: int, now: datetime, lease: timedelta) -> bool:
        """Only one answer per round reaches finAPI: the first caller claims it, a duplicate is turned away."""
        try:
            self._ddb.update_item(
                TableName=self._table,
                Key=_key(update_id),
                UpdateExpression="SET answering_round = :round, answer_lease_until = :until",
                ConditionExpression=(
                    "auth_round = :round AND task_token_round = :round AND "
                    "(attribute_not_exists(answering_round) OR answering_round < :round OR answer_lease_until < :now)"
                ),
                ExpressionAttributeValues={
                    ":round": {"N": str(auth_round)},
                    ":until": {"N": str(int((now + lease).timestamp()))},
                    ":now": {"N": str(int(now.timestamp()))},
                },
            )
        except ClientError as error:
            if _is_condition_failure(error):
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
            if not _is_condition_failure(error):
                raise
