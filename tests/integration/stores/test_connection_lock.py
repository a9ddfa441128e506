"""The per-connection lock under contention, on moto's DynamoDB."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

from bankupdate.stores.connections import ConnectionRepository

NOW = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)


def test_twenty_concurrent_takers_get_the_lock_exactly_once(table: str) -> None:
    # Given a registered connection
    repo = ConnectionRepository(table)
    repo.ensure("user-1", 7, NOW)

    # When 20 updates try to take its lock at the same time
    def take(n: int) -> str | None:
        return repo.acquire_lock(
            "user-1", 7, update_id=f"u{n}", now=NOW, lease_until=NOW + timedelta(minutes=30)
        ).holder

    with ThreadPoolExecutor(max_workers=20) as pool:
        holders = list(pool.map(take, range(20)))
    # Then exactly one got it, and everyone else was told who holds it
    winners = [n for n, holder in enumerate(holders) if holder is None]
    assert len(winners) == 1
    assert {h for h in holders if h is not None} == {f"u{winners[0]}"}


def test_only_the_holder_releases_and_an_expired_lease_can_be_taken_over(table: str) -> None:
    repo = ConnectionRepository(table)
    repo.ensure("user-1", 7, NOW)
    assert repo.acquire_lock("user-1", 7, update_id="a", now=NOW, lease_until=NOW + timedelta(minutes=1)).holder is None
    # Given another update id
    # When it tries to release a lock it does not hold
    # Then nothing happens
    assert repo.release_lock("user-1", 7, update_id="b") is False
    refused = repo.acquire_lock("user-1", 7, update_id="b", now=NOW, lease_until=NOW + timedelta(minutes=1))
    assert refused.holder == "a"
    assert refused.connection is not None and refused.connection.active_update_id == "a"
    # When the lease has run out (its holder crashed)
    later = NOW + timedelta(minutes=2)
    # Then a new update takes it over
    taken = repo.acquire_lock("user-1", 7, update_id="b", now=later, lease_until=later + timedelta(minutes=1))
    assert taken.holder is None
    assert taken.connection is not None and taken.connection.active_update_id == "b"
    assert repo.release_lock("user-1", 7, update_id="b") is True
    record = repo.get("user-1", 7)
    assert record is not None and record.active_update_id is None


def test_a_connection_seen_for_the_first_time_is_created_by_the_write_that_locks_it(table: str) -> None:
    # Given no record of connection 8
    repo = ConnectionRepository(table)
    assert repo.get("user-1", 8) is None
    # When an update takes its lock, allowed to create it
    attempt = repo.acquire_lock(
        "user-1", 8, update_id="a", now=NOW, lease_until=NOW + timedelta(minutes=1), create_missing=True
    )
    # Then the lock is ours and the connection exists with every default a later nested write relies on
    assert attempt.holder is None
    assert attempt.connection == repo.get("user-1", 8)
    assert attempt.connection is not None
    assert (attempt.connection.created_at, attempt.connection.active_update_id) == (NOW, "a")
    repo.record_consent("user-1", 8, consent_expires_at=None, user_action_required=True)
    stored = repo.get("user-1", 8)
    assert stored is not None and stored.health.user_action_required is True


def test_taking_the_lock_never_overwrites_what_the_connection_already_holds(table: str) -> None:
    # Given a connection with history and a released lock
    repo = ConnectionRepository(table)
    repo.ensure("user-1", 9, NOW)
    repo.record_consent("user-1", 9, consent_expires_at=None, user_action_required=True)
    # When a later update takes its lock with create_missing
    later = NOW + timedelta(days=3)
    attempt = repo.acquire_lock(
        "user-1", 9, update_id="b", now=later, lease_until=later + timedelta(minutes=1), create_missing=True
    )
    # Then the connection keeps its creation time and health
    assert attempt.connection is not None
    assert attempt.connection.created_at == NOW
    assert attempt.connection.health.user_action_required is True


def test_without_create_missing_an_unknown_connection_is_not_locked(table: str) -> None:
    # Given no record of connection 10
    repo = ConnectionRepository(table)
    # When an update tries its lock without permission to create it
    attempt = repo.acquire_lock("user-1", 10, update_id="a", now=NOW, lease_until=NOW + timedelta(minutes=1))
    # Then it is refused and nothing was written
    assert (attempt.holder, attempt.connection) == ("unknown", None)
    assert repo.get("user-1", 10) is None
