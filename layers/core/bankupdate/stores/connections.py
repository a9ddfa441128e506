"""Connection records: ``USER#<owner>`` / ``CONNECTION#<id>``, with the per-connection update lock."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError

from bankupdate.domain.budget import UnattendedBudget
from bankupdate.domain.model import ConnectionHealth, ConnectionRecord, SkipReason
from bankupdate.domain.scheduling import shard_of
from bankupdate.stores.aws import client
from bankupdate.stores.items import from_item, to_item, to_value
from bankupdate.stores.records import LockAttempt

_RECORD_FIELDS = frozenset(ConnectionRecord.model_fields)


def _key(owner_id: str, connection_id: int) -> dict[str, Any]:
    return {"pk": {"S": f"USER#{owner_id}"}, "sk": {"S": f"CONNECTION#{connection_id}"}}


def _new_item(owner_id: str, connection_id: int, now: datetime) -> dict[str, Any]:
    """The attributes of a connection seen for the first time (its key aside)."""
    record = ConnectionRecord(owner_id=owner_id, connection_id=connection_id, created_at=now)
    return to_item(record.model_dump(mode="json", exclude_none=True))


def _record(item: dict[str, Any] | None) -> ConnectionRecord | None:
    if not item:
        return None
    return ConnectionRecord.model_validate({k: v for k, v in from_item(item).items() if k in _RECORD_FIELDS})


def _is_condition_failure(error: ClientError) -> bool:
    return bool(error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException")


class ConnectionRepository:
    def __init__(self, table_name: str) -> None:
        self._table = table_name
        self._ddb = client("dynamodb")

    def get(self, owner_id: str, connection_id: int) -> ConnectionRecord | None:
        answer = self._ddb.get_item(TableName=self._table, Key=_key(owner_id, connection_id), ConsistentRead=True)
        return _record(answer.get("Item"))

    def ensure(self, owner_id: str, connection_id: int, now: datetime) -> None:
        try:
            self._ddb.put_item(
                TableName=self._table,
                Item=_new_item(owner_id, connection_id, now) | _key(owner_id, connection_id),
                ConditionExpression="attribute_not_exists(pk)",
            )
        except ClientError as error:
            if not _is_condition_failure(error):
                raise

    def acquire_lock(
        self,
        owner_id: str,
        connection_id: int,
        *,
        update_id: str,
        now: datetime,
        lease_until: datetime,
        create_missing: bool = False,
    ) -> LockAttempt:
        """Take the connection's lock for ``update_id`` in one conditional write that also returns the connection.

        A lease that ran out can be taken over: only a crashed workflow leaves one behind (Finalize releases it).
        With ``create_missing`` a connection seen for the first time is created by the same write (the trigger's
        path: no separate create-if-absent and read round-trips).
        """
        sets = ["active_update_id = :id", "lock_expires_at = :until", "lock_until_epoch = :epoch"]
        names: dict[str, str] = {}
        values: dict[str, Any] = {
            ":id": {"S": update_id},
            ":until": {"S": lease_until.isoformat()},
            ":epoch": {"N": str(int(lease_until.timestamp()))},
            ":now": {"N": str(int(now.timestamp()))},
        }
        free = "attribute_not_exists(active_update_id) OR lock_until_epoch < :now"
        if create_missing:
            for n, (attribute, value) in enumerate(_new_item(owner_id, connection_id, now).items()):
                names[f"#new{n}"], values[f":new{n}"] = attribute, value
                sets.append(f"#new{n} = if_not_exists(#new{n}, :new{n})")
            condition = free
        else:
            condition = f"attribute_exists(pk) AND ({free})"
        try:
            answer = self._ddb.update_item(
                TableName=self._table,
                Key=_key(owner_id, connection_id),
                UpdateExpression="SET " + ", ".join(sets),
                ConditionExpression=condition,
                ExpressionAttributeValues=values,
                **({"ExpressionAttributeNames": names} if names else {}),
                ReturnValues="ALL_NEW",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as error:
            if not _is_condition_failure(error):
                raise
            found = _record(error.response.get("Item"))
            return LockAttempt(holder=(found.active_update_id if found else None) or "unknown", connection=found)
        return LockAttempt(holder=None, connection=_record(answer.get("Attributes")))

    def release_lock(self, owner_id: str, connection_id: int, *, update_id: str) -> bool:
        try:
            self._ddb.update_item(
                TableName=self._table,
                Key=_key(owner_id, connection_id),
                UpdateExpression="REMOVE active_update_id, lock_expires_at, lock_until_epoch",
                ConditionExpression="active_update_id = :id",
                ExpressionAttributeValues={":id": {"S": update_id}},
            )
        except ClientError as error:
            if _is_condition_failure(error):
                return False
            raise
        return True

    def record_consent(
        self, owner_id: str, connection_id: int, *, consent_expires_at: datetime | None, user_action_required: bool
    ) -> None:
        """What finAPI says about the consent and the need for the user, as of a sync."""
        values: dict[str, Any] = {":uar": {"BOOL": user_action_required}}
        expression = "SET health.user_action_required = :uar"
        if consent_expires_at is not None:
            values[":expires"] = {"S": consent_expires_at.isoformat()}
            expression += ", health.consent_expires_at = :expires"
        self._ddb.update_item(
            TableName=self._table,
            Key=_key(owner_id, connection_id),
            UpdateExpression=expression,
            ConditionExpression="attribute_exists(pk)",
            ExpressionAttributeValues=values,
        )

    def record_health(self, owner_id: str, connection_id: int, health: ConnectionHealth) -> None:
        self._ddb.update_item(
            TableName=self._table,
            Key=_key(owner_id, connection_id),
            UpdateExpression="SET health = :health",
            ConditionExpression="attribute_exists(pk)",
            ExpressionAttributeValues={":health": to_value(health.model_dump(mode="json", exclude_none=True))},
        )


def _due_keys(owner_id: str, connection_id: int, due: datetime, shards: int) -> dict[str, Any]:
    shard = shard_of(owner_id, connection_id, shards)
    return {
        ":gpk": {"S": f"DUE#{shard}"},
        ":gsk": {"S": f"{due.astimezone(UTC).isoformat()}#{owner_id}#{connection_id}"},
    }


class ScheduleRepository:
    """The scheduling side of connection items: the sparse due index (gsi1) and the unattended budget counters."""

    def __init__(self, table_name: str, shards: int) -> None:
        self._table = table_name
        self._shards = shards
        self._ddb = client("dynamodb")

    def set_schedule(self, owner_id: str, connection_id: int, *, enabled: bool, next_due_at: datetime | None) -> None:
        """Opt in (the connection enters the due index) or out (it leaves it)."""
        values: dict[str, Any] = {":enabled": {"BOOL": enabled}}
        if enabled and next_due_at is not None:
            values |= _due_keys(owner_id, connection_id, next_due_at, self._shards)
            values[":due"] = {"S": next_due_at.isoformat()}
            expression = "SET #schedule.enabled = :enabled, #schedule.next_due_at = :due, gsi1pk = :gpk, gsi1sk = :gsk"
        else:
            expression = "SET #schedule.enabled = :enabled REMOVE #schedule.next_due_at, gsi1pk, gsi1sk"
        self._ddb.update_item(
            TableName=self._table,
            Key=_key(owner_id, connection_id),
            UpdateExpression=expression,
            ConditionExpression="attribute_exists(pk)",
            ExpressionAttributeNames={"#schedule": "schedule"},
            ExpressionAttributeValues=values,
        )

    def reschedule(
        self, owner_id: str, connection_id: int, *, next_due_at: datetime | None, skip: SkipReason | None, now: datetime
    ) -> None:
        """Move the connection to its next due slot (or out of the index) and remember why it was skipped, if so."""
        names = {"#schedule": "schedule"}
        values: dict[str, Any] = {":skip": {"S": skip.value} if skip else {"NULL": True}, ":at": {"S": now.isoformat()}}
        sets = ["#schedule.last_skip_reason = :skip", "#schedule.last_skip_at = :at"]
        removes: list[str] = []
        if next_due_at is None:
            removes += ["#schedule.next_due_at", "gsi1pk", "gsi1sk"]
        else:
            values |= _due_keys(owner_id, connection_id, next_due_at, self._shards)
            values[":due"] = {"S": next_due_at.isoformat()}
            sets += ["#schedule.next_due_at = :due", "gsi1pk = :gpk", "gsi1sk = :gsk"]
        expression = "SET " + ", ".join(sets) + (" REMOVE " + ", ".join(removes) if removes else "")
        try:
            self._ddb.update_item(
                TableName=self._table,
                Key=_key(owner_id, connection_id),
                UpdateExpression=expression,
                # A connection opted out meanwhile must not re-enter the due index.
                ConditionExpression="attribute_exists(pk) AND #schedule.enabled = :true",
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values | {":true": {"BOOL": True}},
            )
        except ClientError as error:
            if not _is_condition_failure(error):
                raise

    def consume_unattended(self, owner_id: str, connection_id: int, *, budget: UnattendedBudget, now: datetime) -> bool:
        """Take one unit of today's unattended budget, atomically; False when the day's budget is used up."""
        try:
            self._ddb.update_item(
                TableName=self._table,
                Key=_key(owner_id, connection_id),
                UpdateExpression="SET unattended.#today = if_not_exists(unattended.#today, :zero) + :one "
                "REMOVE unattended.#yesterday",
                ConditionExpression="attribute_exists(pk) AND "
                "(attribute_not_exists(unattended.#today) OR unattended.#today < :max)",
                ExpressionAttributeNames={"#today": budget.day_key(now), "#yesterday": budget.previous_day_key(now)},
                ExpressionAttributeValues={
                    ":zero": {"N": "0"},
                    ":one": {"N": "1"},
                    ":max": {"N": str(budget.usable_per_day)},
                },
            )
        except ClientError as error:
            if _is_condition_failure(error):
                return False
            raise
        return True

    def mark_consent_warned(self, owner_id: str, connection_id: int, expires_at: datetime) -> bool:
        """Remember that users were warned about this expiry date; False if someone did already."""
        try:
            self._ddb.update_item(
                TableName=self._table,
                Key=_key(owner_id, connection_id),
                UpdateExpression="SET #schedule.consent_warning_for = :expires",
                ConditionExpression="attribute_exists(pk) AND "
                "(attribute_not_exists(#schedule.consent_warning_for) OR #schedule.consent_warning_for <> :expires)",
                ExpressionAttributeNames={"#schedule": "schedule"},
                ExpressionAttributeValues={":expires": {"S": expires_at.isoformat()}},
            )
        except ClientError as error:
            if _is_condition_failure(error):
                return False
            raise
        return True

    def due(self, *, now: datetime, page_size: int = 1000) -> Iterator[tuple[str, int, datetime]]:
        """(owner, connection, due slot) of every connection due by ``now``, shard by shard, page by page."""
        upper = f"{now.astimezone(UTC).isoformat()}#\uffff"
        for shard in range(self._shards):
            request: dict[str, Any] = {
                "TableName": self._table,
                "IndexName": "gsi1",
                "KeyConditionExpression": "gsi1pk = :pk AND gsi1sk <= :upper",
                "ExpressionAttributeValues": {":pk": {"S": f"DUE#{shard}"}, ":upper": {"S": upper}},
                "ProjectionExpression": "gsi1sk",
                "Limit": page_size,
            }
            while True:
                answer = self._ddb.query(**request)
                for item in answer.get("Items", []):
                    due, owner, connection = item["gsi1sk"]["S"].rsplit("#", 2)
                    yield owner, int(connection), datetime.fromisoformat(due)
                if "LastEvaluatedKey" not in answer:
                    break
                request["ExclusiveStartKey"] = answer["LastEvaluatedKey"]

    def list_for_owner(self, owner_id: str) -> list[ConnectionRecord]:
        request: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "pk = :pk AND begins_with(sk, :prefix)",
            "ExpressionAttributeValues": {":pk": {"S": f"USER#{owner_id}"}, ":prefix": {"S": "CONNECTION#"}},
        }
        found: list[ConnectionRecord] = []
        while True:
            answer = self._ddb.query(**request)
            found += [record for item in answer.get("Items", []) if (record := _record(item)) is not None]
            if "LastEvaluatedKey" not in answer:
                return found
            request["ExclusiveStartKey"] = answer["LastEvaluatedKey"]
