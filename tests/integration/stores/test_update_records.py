"""Update records: optimistic versions, task token parking, answer claims (moto DynamoDB)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest

from bankupdate.domain.model import Challenge, ChallengeStatus, UpdateMode, UpdateRecord, UpdateStatus
from bankupdate.stores.updates import StaleUpdate, UpdateRepository

NOW = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)


def waiting_record() -> UpdateRecord:
    return UpdateRecord(
        update_id="0" * 32,
        owner_id="user-1",
        connection_id=1,
        mode=UpdateMode.USER_PRESENT,
        status=UpdateStatus.AUTHENTICATION_REQUIRED,
        challenge=Challenge(status=ChallengeStatus.CHALLENGE_RESPONSE_REQUIRED, hash="h1"),
        auth_round=1,
        created_at=NOW,
        updated_at=NOW,
    )


def test_a_stale_writer_is_refused(table: str) -> None:
    repo = UpdateRepository(table, timedelta(days=30))
    record = waiting_record()
    repo.create(record)
    # Given two writers that read version 0
    first = repo.save(record.model_copy(update={"poll_count": 1}), expected_version=0)
    # Then the second one is refused instead of overwriting
    with pytest.raises(StaleUpdate):
        repo.save(record.model_copy(update={"poll_count": 9}), expected_version=0)
    stored = repo.get(record.update_id)
    assert stored is not None and stored.record.poll_count == 1 and stored.record.version == first.version == 1


def test_round_trip_keeps_every_field(table: str) -> None:
    repo = UpdateRepository(table, timedelta(days=30))
    record = waiting_record()
    repo.create(record)
    stored = repo.get(record.update_id)
    assert stored is not None and stored.record == record
    assert stored.task_token is None


def test_only_one_of_many_concurrent_answers_claims_the_round(table: str) -> None:
    repo = UpdateRepository(table, timedelta(days=30))
    record = waiting_record()
    repo.create(record)
    assert repo.park_task_token(record.update_id, token="token-1", auth_round=1)
    # When ten duplicate submissions race for round 1
    with ThreadPoolExecutor(max_workers=10) as pool:
        claims = list(
            pool.map(
                lambda _: repo.claim_round(record.update_id, auth_round=1, now=NOW, lease=timedelta(seconds=60)),
                range(10),
            )
        )
    # Then exactly one may talk to finAPI
    assert claims.count(True) == 1
    # And after a release (finAPI unreachable) the answer can be sent again
    repo.release_round(record.update_id, auth_round=1)
    assert repo.claim_round(record.update_id, auth_round=1, now=NOW, lease=timedelta(seconds=60))


def test_a_round_cannot_be_claimed_before_its_token_is_parked(table: str) -> None:
    repo = UpdateRepository(table, timedelta(days=30))
    record = waiting_record()
    repo.create(record)
    assert not repo.claim_round(record.update_id, auth_round=1, now=NOW, lease=timedelta(seconds=60))


def test_a_token_for_an_old_round_is_not_parked(table: str) -> None:
    repo = UpdateRepository(table, timedelta(days=30))
    record = waiting_record()
    repo.create(record)
    assert not repo.park_task_token(record.update_id, token="old", auth_round=0)
