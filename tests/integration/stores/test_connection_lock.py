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
        return repo.acquire_lock("user-1", 7, update_id=f"u{n}", now=NOW, lease_until=NOW + timedelta(minutes=30))

    with ThreadPoolExecutor(max_workers=20) as pool:
        holders = list(pool.map(take, range(20)))
    # Then exactly one got it, and everyone else was told who holds it
    winners = [n for n, holder in enumerate(holders) if holder is None]
    assert len(winners) == 1
    assert {h for h in holders if h is not None} == {f"u{winners[0]}"}


def test_only_the_holder_releases_and_an_expired_lease_can_be_taken_over(table: str) -> None:
    repo = ConnectionRepository(table)
    repo.ensure("user-1", 7, NOW)
    assert repo.acquire_lock("user-1", 7, update_id="a", now=NOW, lease_until=NOW + timedelta(minutes=1)) is None
    # Given another update id
    # When it tries to release a lock it does not hold
    # Then nothing happens
    assert repo.release_lock("user-1", 7, update_id="b") is False
    assert repo.acquire_lock("user-1", 7, update_id="b", now=NOW, lease_until=NOW + timedelta(minutes=1)) == "a"
    # When the lease has run out (its holder crashed)
    later = NOW + timedelta(minutes=2)
    # Then a new update takes it over
    assert repo.acquire_lock("user-1", 7, update_id="b", now=later, lease_until=later + timedelta(minutes=1)) is None
    assert repo.release_lock("user-1", 7, update_id="b") is True
    record = repo.get("user-1", 7)
    assert record is not None and record.active_update_id is None
