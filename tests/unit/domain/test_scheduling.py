from datetime import UTC, datetime, timedelta

import pytest

from bankupdate.domain.budget import UnattendedBudget
from bankupdate.domain.errors import UpdateError
from bankupdate.domain.model import ConnectionHealth, ConnectionRecord, ScheduleState, SkipReason
from bankupdate.domain.scheduling import consent_expiring, scheduled_update_id, shard_of, skip_reason

NOW = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)


def connection(**changes: object) -> ConnectionRecord:
    base = ConnectionRecord(
        owner_id="user-1", connection_id=1, created_at=NOW, schedule=ScheduleState(enabled=True, next_due_at=NOW)
    )
    return base.model_copy(update=changes)


def error(code: str, user_action: bool = False) -> UpdateError:
    return UpdateError(code=code, message="m", user_message="u", retryable=False, user_action_required=user_action)


@pytest.mark.parametrize(
    ("record", "budget_left", "expected"),
    [
        (connection(), 3, None),
        (connection(schedule=ScheduleState(enabled=False)), 3, SkipReason.SCHEDULE_DISABLED),
        (connection(health=ConnectionHealth(user_action_required=True)), 3, SkipReason.USER_ACTION_REQUIRED),
        (
            connection(health=ConnectionHealth(consent_expires_at=NOW - timedelta(seconds=1))),
            3,
            SkipReason.CONSENT_EXPIRED,
        ),
        (
            connection(active_update_id="x", lock_expires_at=NOW + timedelta(minutes=5)),
            3,
            SkipReason.UPDATE_RUNNING,
        ),
        (connection(active_update_id="x", lock_expires_at=NOW - timedelta(minutes=5)), 3, None),
        (connection(health=ConnectionHealth(last_error=error("BANK_UNSUPPORTED"))), 3, SkipReason.PERMANENT_ERROR),
        (connection(health=ConnectionHealth(last_error=error("UPSTREAM_UNAVAILABLE"))), 3, None),
        (connection(), 0, SkipReason.BUDGET_EXHAUSTED),
    ],
)
def test_skip_rules(record: ConnectionRecord, budget_left: int, expected: SkipReason | None) -> None:
    assert skip_reason(record, now=NOW, remaining_budget=budget_left) == expected


def test_consent_warning_fires_once_per_expiry_date() -> None:
    # Given a consent that expires in three days
    expires = NOW + timedelta(days=3)
    record = connection(health=ConnectionHealth(consent_expires_at=expires))
    # Then it is expiring within a 7-day window, but not within a 1-day one
    assert consent_expiring(record, now=NOW, window=timedelta(days=7))
    assert not consent_expiring(record, now=NOW, window=timedelta(days=1))
    # And once warned about that date, not again
    warned = record.model_copy(update={"schedule": ScheduleState(enabled=True, consent_warning_for=expires)})
    assert not consent_expiring(warned, now=NOW, window=timedelta(days=7))
    # But a renewed consent (new date) is watched again
    renewed = warned.model_copy(update={"health": ConnectionHealth(consent_expires_at=expires + timedelta(days=90))})
    assert consent_expiring(renewed, now=NOW + timedelta(days=88), window=timedelta(days=7))


def test_scheduled_update_id_is_deterministic_per_slot() -> None:
    first = scheduled_update_id("user-1", 1, NOW)
    assert first == scheduled_update_id("user-1", 1, NOW)
    assert first != scheduled_update_id("user-1", 1, NOW + timedelta(hours=6))
    assert first != scheduled_update_id("user-2", 1, NOW)
    assert len(first) == 32 and int(first, 16) >= 0


def test_shards_spread_connections() -> None:
    shards = {shard_of("user", n, 4) for n in range(200)}
    assert shards == {0, 1, 2, 3}


def test_budget_day_follows_the_bank_time_zone() -> None:
    budget = UnattendedBudget(daily_limit=4, reserve=1, time_zone="Europe/Berlin")
    # 23:30 UTC on the 24th is already the 25th in Berlin
    late = datetime(2026, 11, 24, 23, 30, tzinfo=UTC)
    assert budget.day_key(late) == "2026-11-25"
    assert budget.usable_per_day == 3
    assert budget.remaining({"2026-11-25": 2}, late) == 1
    assert budget.remaining({"2026-11-24": 3}, late) == 3
    assert budget.next_day_start(late).isoformat() == "2026-11-26T00:00:00+01:00"
