"""Connection records: ``USER#<owner>`` / ``CONNECTION#<id>``, with the per-connection update lock, the user's update
rate and the outcome of the last update (written with the lock's release, in one write).

The rate's log (``domain.trigger_rate.TriggerRate``) is kept in top-level attributes ``user_trigger_0`` (the oldest) to
``user_trigger_<limit - 1>``, 0 for an empty slot: the write that admits a trigger shifts them down by one and puts the
new one last, ``if_not_exists`` filling slots never written, so one conditional write counts any trigger, the first
one of a connection included."""

from __future__ import annotations

import heapq
import re
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError

from bankupdate.domain.budget import UnattendedBudget
from bankupdate.domain.model import ConnectionHealth, ConnectionRecord, SkipReason
from bankupdate.domain.scheduling import shard_of
from bankupdate.domain.trigger_rate import TriggerRate
from bankupdate.domain.upstream import ConnectionFacts
from bankupdate.ports import ConnectionOutcome, LockAttempt, LockRefusal
from bankupdate.stores.aws import ServiceClient, is_condition_failure
from bankupdate.stores.items import from_item, to_item, to_value

_RECORD_FIELDS = frozenset(ConnectionRecord.model_fields)
_LOCK_FREE = "(attribute_not_exists(active_update_id) OR lock_until_epoch < :now)"
_ATTEMPTS = 3
_COUNTED_HERE = {"user_triggers"}
_SLOT = re.compile(r"^user_trigger_(\d+)$")
_OLD_RATE_ATTRIBUTES = "user_trigger_window, user_trigger_count"  # the fixed windows' count, before D24's change
_UNATTENDED_MARK = "unattended_take"  # the mark of the last unit taken of the unattended budget (a random id)


def _key(owner_id: str, connection_id: int) -> dict[str, Any]:
    return {"pk": {"S": f"USER#{owner_id}"}, "sk": {"S": f"CONNECTION#{connection_id}"}}


def _record(item: dict[str, Any] | None) -> ConnectionRecord | None:
    if not item:
        return None
    data = from_item(item)
    fields = {k: v for k, v in data.items() if k in _RECORD_FIELDS}
    return ConnectionRecord.model_validate(fields | {"user_triggers": _trigger_log(data)})


def _trigger_log(data: dict[str, Any]) -> tuple[int, ...]:
    slots = sorted((int(found[1]), int(v)) for k, v in data.items() if (found := _SLOT.match(k)))
    return tuple(value for _, value in slots if value > 0)


def _due_keys(owner_id: str, connection_id: int, due: datetime, shards: int) -> dict[str, Any]:
    shard = shard_of(owner_id, connection_id, shards)
    return {
        ":gpk": {"S": f"DUE#{shard}"},
        ":gsk": {"S": f"{due.astimezone(UTC).isoformat()}#{owner_id}#{connection_id}"},
    }


class DynamoConnectionStore:
    _ddb = ServiceClient("dynamodb")

    def __init__(self, table_name: str, shards: int) -> None:
        self._table = table_name
        self._shards = shards

    def get(self, owner_id: str, connection_id: int) -> ConnectionRecord | None:
        answer = self._ddb.get_item(TableName=self._table, Key=_key(owner_id, connection_id), ConsistentRead=True)
        return _record(answer.get("Item"))

    def acquire_lock(
        self,
        owner_id: str,
        connection_id: int,
        *,
        update_id: str,
        now: datetime,
        lease_until: datetime,
        create: ConnectionRecord | None = None,
        rate: TriggerRate | None = None,
    ) -> LockAttempt:
        """One conditional write takes the lock, counts the trigger in the rate's log and (with ``create``) creates
        the connection. Another attempt only follows a racer's write."""
        for _ in range(_ATTEMPTS):
            sets = ["active_update_id = :id", "lock_expires_at = :until", "lock_until_epoch = :epoch"]
            removes: list[str] = []
            conditions = [_LOCK_FREE]
            names: dict[str, str] = {}
            values: dict[str, Any] = {
                ":id": {"S": update_id},
                ":until": {"S": lease_until.isoformat()},
                ":epoch": {"N": str(int(lease_until.timestamp()))},
                ":now": {"N": str(int(now.timestamp()))},
            }
            if create is not None:
                fresh = to_item(create.model_dump(mode="json", exclude_none=True, exclude=_COUNTED_HERE))
                for n, (attribute, value) in enumerate(fresh.items()):
                    names[f"#new{n}"], values[f":new{n}"] = attribute, value
                    sets.append(f"#new{n} = if_not_exists(#new{n}, :new{n})")
            else:
                conditions.append("attribute_exists(pk)")
            if rate is not None:
                last = rate.limit - 1
                names |= {f"#t{i}": f"user_trigger_{i}" for i in range(rate.limit)}
                values |= {":admitted": {"N": str(rate.stamp(now))}, ":closed": {"N": str(rate.closed_at(now))}}
                if last:
                    values[":zero"] = {"N": "0"}  # DynamoDB refuses values an expression does not use
                # Left shift, oldest first: each slot reads the next one's old value (DynamoDB evaluates every operand
                # on the item as it was; in order, each next slot is still unwritten too).
                sets += [f"#t{i} = if_not_exists(#t{i + 1}, :zero)" for i in range(last)]
                sets.append(f"#t{last} = :admitted")
                conditions.append("(attribute_not_exists(#t0) OR #t0 <= :closed)")
                removes.append(_OLD_RATE_ATTRIBUTES)
            expression = "SET " + ", ".join(sets) + (" REMOVE " + ", ".join(removes) if removes else "")
            try:
                answer = self._ddb.update_item(
                    TableName=self._table,
                    Key=_key(owner_id, connection_id),
                    UpdateExpression=expression,
                    ConditionExpression=" AND ".join(conditions),
                    ExpressionAttributeValues=values,
                    **({"ExpressionAttributeNames": names} if names else {}),
                    ReturnValues="ALL_NEW",
                    ReturnValuesOnConditionCheckFailure="ALL_OLD",
                )
            except ClientError as error:
                if not is_condition_failure(error):
                    raise
                found = from_item(error.response.get("Item") or {})
                if found.get("active_update_id") == update_id:
                    # botocore retried a take whose first attempt landed (its answer was lost): the lock is ours
                    return LockAttempt(None, None, _record(error.response.get("Item")))
                refusal = self._refusal(found, now, rate, create is not None)
                if refusal is not None:
                    return LockAttempt(refusal, found.get("active_update_id"), _record(error.response.get("Item")))
                continue  # a racer wrote in between (released the lock, or created the connection): try again
            return LockAttempt(None, None, _record(answer.get("Attributes")))
        return LockAttempt(LockRefusal.HELD, None, None)

    @staticmethod
    def _refusal(found: dict[str, Any], now: datetime, rate: TriggerRate | None, creating: bool) -> LockRefusal | None:
        if not found and not creating:
            return LockRefusal.MISSING
        held = found.get("active_update_id") is not None and int(found.get("lock_until_epoch", 0)) >= int(
            now.timestamp()
        )
        if held:
            return LockRefusal.HELD
        if rate is not None and not rate.admits(_trigger_log(found), now):
            return LockRefusal.RATE
        return None

    def release(self, owner_id: str, connection_id: int, *, update_id: str, outcome: ConnectionOutcome | None) -> bool:
        for reschedule in (True, False):
            if outcome is not None and reschedule and not outcome.reschedule:
                continue
            try:
                self._release(owner_id, connection_id, update_id, outcome, reschedule=reschedule)
            except ClientError as error:
                if not is_condition_failure(error):
                    raise
                if reschedule and outcome is not None:
                    continue  # the user switched background updates off meanwhile: keep it that way
                return False
            return True
        return False

    def _release(
        self, owner_id: str, connection_id: int, update_id: str, outcome: ConnectionOutcome | None, *, reschedule: bool
    ) -> None:
        sets: list[str] = []
        removes = ["active_update_id", "lock_expires_at", "lock_until_epoch"]
        condition = "active_update_id = :id"
        names: dict[str, str] = {}
        values: dict[str, Any] = {":id": {"S": update_id}}
        if outcome is not None:
            sets.append("health = :health")
            values[":health"] = to_value(outcome.health.model_dump(mode="json", exclude_none=True))
            if reschedule:
                names["#schedule"] = "schedule"
                condition += " AND #schedule.enabled = :true"
                values[":true"] = {"BOOL": True}
                # A skip and its time go together: a run that was not skipped leaves neither (api.md, lastSkipAt).
                attempted = outcome.health.last_attempt_at if outcome.skip else None
                values[":skip"] = {"S": outcome.skip.value} if outcome.skip else {"NULL": True}
                values[":at"] = {"S": attempted.isoformat()} if attempted else {"NULL": True}
                sets += ["#schedule.last_skip_reason = :skip", "#schedule.last_skip_at = :at"]
                if outcome.next_due_at is None:
                    removes += ["#schedule.next_due_at", "gsi1pk", "gsi1sk"]
                else:
                    values |= _due_keys(owner_id, connection_id, outcome.next_due_at, self._shards)
                    values[":due"] = {"S": outcome.next_due_at.isoformat()}
                    sets += ["#schedule.next_due_at = :due", "gsi1pk = :gpk", "gsi1sk = :gsk"]
        expression = ("SET " + ", ".join(sets) + " " if sets else "") + "REMOVE " + ", ".join(removes)
        self._ddb.update_item(
            TableName=self._table,
            Key=_key(owner_id, connection_id),
            UpdateExpression=expression,
            ConditionExpression=condition,
            ExpressionAttributeValues=values,
            **({"ExpressionAttributeNames": names} if names else {}),
        )

    def record_facts(self, owner_id: str, facts: ConnectionFacts, now: datetime) -> None:
        fresh = ConnectionRecord(
            owner_id=owner_id,
            connection_id=facts.connection_id,
            created_at=now,
            redirect_interfaces=facts.redirect_interfaces,
            health=ConnectionHealth(
                consent_expires_at=facts.consent_expires_at,
                user_action_required=facts.user_action_required,
                known_account_ids=facts.account_ids,
            ),
        )
        try:
            self._ddb.put_item(
                TableName=self._table,
                Item=to_item(fresh.model_dump(mode="json", exclude_none=True, exclude=_COUNTED_HERE))
                | _key(owner_id, facts.connection_id),
                ConditionExpression="attribute_not_exists(pk)",
            )
            return
        except ClientError as error:
            if not is_condition_failure(error):
                raise
        values: dict[str, Any] = {
            ":uar": {"BOOL": facts.user_action_required},
            ":redirect": to_value(list(facts.redirect_interfaces)),
        }
        expression = "SET health.user_action_required = :uar, redirect_interfaces = :redirect"
        if facts.consent_expires_at is not None:
            values[":expires"] = {"S": facts.consent_expires_at.isoformat()}
            expression += ", health.consent_expires_at = :expires"
        self._ddb.update_item(
            TableName=self._table,
            Key=_key(owner_id, facts.connection_id),
            UpdateExpression=expression,
            ConditionExpression="attribute_exists(pk)",
            ExpressionAttributeValues=values,
        )


class DynamoScheduleStore:
    """The scheduling side of connection items: the sparse due index (gsi1) and the unattended budget counters."""

    _ddb = ServiceClient("dynamodb")

    def __init__(self, table_name: str, shards: int) -> None:
        self._table = table_name
        self._shards = shards

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
        """Move the connection to its next due slot (or out of the index) and remember why and when it was skipped,
        if it was (a run that was not skipped leaves neither)."""
        names = {"#schedule": "schedule"}
        values: dict[str, Any] = {
            ":skip": {"S": skip.value} if skip else {"NULL": True},
            ":at": {"S": now.isoformat()} if skip else {"NULL": True},
        }
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
            if not is_condition_failure(error):
                raise

    def consume_unattended(self, owner_id: str, connection_id: int, *, budget: UnattendedBudget, now: datetime) -> bool:
        """Take one unit of today's unattended budget, atomically; False when the day's budget is used up."""
        if budget.usable_per_day <= 0:
            return False  # the condition below lets the day's first unit through whatever the limit
        # Each take is marked: a take whose answer was lost (a read timeout) is retried by botocore, and the retry must
        # neither count the unit again nor be refused for the unit it took itself (D37, as for the update record).
        mark = uuid.uuid4().hex
        try:
            self._ddb.update_item(
                TableName=self._table,
                Key=_key(owner_id, connection_id),
                UpdateExpression="SET unattended.#today = if_not_exists(unattended.#today, :zero) + :one, "
                "#mark = :mark REMOVE unattended.#yesterday",
                ConditionExpression="attribute_exists(pk) AND "
                "(attribute_not_exists(unattended.#today) OR unattended.#today < :max) AND "
                "(attribute_not_exists(#mark) OR #mark <> :mark)",
                ExpressionAttributeNames={
                    "#today": budget.day_key(now),
                    "#yesterday": budget.previous_day_key(now),
                    "#mark": _UNATTENDED_MARK,
                },
                ExpressionAttributeValues={
                    ":zero": {"N": "0"},
                    ":one": {"N": "1"},
                    ":max": {"N": str(budget.usable_per_day)},
                    ":mark": {"S": mark},
                },
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as error:
            if is_condition_failure(error):
                # The unit is ours when the item holds this take's mark: its first attempt landed.
                return bool(from_item(error.response.get("Item") or {}).get(_UNATTENDED_MARK) == mark)
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
            if is_condition_failure(error):
                return False
            raise
        return True

    def due(self, *, now: datetime, page_size: int = 1000) -> Iterator[tuple[str, int, datetime]]:
        """(owner, connection, due slot) of every connection due by ``now``, the oldest first across the shards
        (a run that queues only part of them must not leave one shard's backlog behind another's), page by page."""
        upper = f"{now.astimezone(UTC).isoformat()}#\uffff"
        shards = (self._shard_due(shard, upper, page_size) for shard in range(self._shards))
        for key in heapq.merge(*shards):
            due, owner, connection = key.rsplit("#", 2)
            yield owner, int(connection), datetime.fromisoformat(due)

    def _shard_due(self, shard: int, upper: str, page_size: int) -> Iterator[str]:
        """One shard's due keys in index order (the slot in UTC first: they sort as time), read a page at a time."""
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
                yield item["gsi1sk"]["S"]
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
