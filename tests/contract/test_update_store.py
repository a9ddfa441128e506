"""UpdateStore: the in-memory fake and DynamoDB behave alike in everything the use cases rely on."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest

from bankupdate.contract import WaitingTask
from bankupdate.domain.model import UpdateStatus
from bankupdate.ports import StaleUpdate, UpdateStore
from tests.contract.conftest import SHARDS, Stores
from tests.contract.lost_answers import LostAnswers
from tests.contract.records import NOW, waiting_update

LEASE = timedelta(seconds=60)


def test_a_created_record_reads_back_unchanged_and_without_a_task_token(stores: Stores) -> None:
    # Given a new update
    record = waiting_update()
    # When it is created
    created = stores.updates.create(record)
    # Then it reads back field for field, with no workflow token yet
    stored = stores.updates.get(record.update_id)
    assert created is True
    assert stored is not None and stored.record == record and stored.task_token is None


def test_creating_an_existing_update_again_is_refused_and_keeps_the_first(stores: Stores) -> None:
    # Given an update
    first = waiting_update()
    stores.updates.create(first)
    # When a record with the same id is created again
    again = stores.updates.create(first.model_copy(update={"poll_count": 7}))
    # Then the second create is refused and the first record stays
    stored = stores.updates.get(first.update_id)
    assert again is False
    assert stored is not None and stored.record.poll_count == 0


def test_an_unknown_update_is_none(stores: Stores) -> None:
    assert stores.updates.get("f" * 32) is None


def test_a_save_raises_the_version_and_a_stale_writer_is_refused(stores: Stores) -> None:
    # Given an update that two writers read at version 0
    record = waiting_update()
    stores.updates.create(record)
    # When the first saves, then the second saves what it read
    first = stores.updates.save(record.model_copy(update={"poll_count": 1}), expected_version=0)
    with pytest.raises(StaleUpdate):
        stores.updates.save(record.model_copy(update={"poll_count": 9}), expected_version=0)
    # Then only the first write is stored, at version 1
    stored = stores.updates.get(record.update_id)
    assert first.record.version == 1
    assert stored is not None and stored.record == first.record


def test_saving_an_update_that_was_never_created_is_stale(stores: Stores) -> None:
    with pytest.raises(StaleUpdate):
        stores.updates.save(waiting_update(), expected_version=0)


def test_a_save_that_clears_a_field_clears_it_in_the_store(stores: Stores) -> None:
    # Given an update with a challenge
    record = waiting_update()
    stores.updates.create(record)
    # When it is saved without the challenge (the user answered, the download runs)
    running = record.model_copy(update={"status": UpdateStatus.IN_PROGRESS, "challenge": None})
    stores.updates.save(running, expected_version=0)
    # Then the challenge is gone from the stored record
    stored = stores.updates.get(record.update_id)
    assert stored is not None and stored.record.challenge is None and stored.record.status is UpdateStatus.IN_PROGRESS


def test_a_wait_parks_its_token_while_the_update_stands_where_the_wait_expects(stores: Stores) -> None:
    # Given an update waiting for its user
    record = waiting_update()
    stores.updates.create(record)
    # When the workflow's wait for the user parks its token, and the update is saved afterwards
    parked = stores.updates.park_task_token(
        record.update_id, "token-1", kind=WaitingTask.USER, while_status=UpdateStatus.AUTHENTICATION_REQUIRED
    )
    saved = stores.updates.save(record.model_copy(update={"poll_count": 1}), expected_version=0)
    # Then the token and its kind are there, and the save reports them as it found them
    stored = stores.updates.get(record.update_id)
    assert parked is True
    assert stored is not None and (stored.task_token, stored.task_kind) == ("token-1", WaitingTask.USER)
    assert (saved.task_token, saved.task_kind) == ("token-1", WaitingTask.USER)


def test_a_wait_for_a_status_the_update_has_left_parks_nothing(stores: Stores) -> None:
    # Given an update whose user answered meanwhile (the download runs)
    record = waiting_update()
    stores.updates.create(record)
    stores.updates.save(record.model_copy(update={"status": UpdateStatus.IN_PROGRESS}), expected_version=0)
    # When the wait for the user tries to park its token
    parked = stores.updates.park_task_token(
        record.update_id, "token-1", kind=WaitingTask.USER, while_status=UpdateStatus.AUTHENTICATION_REQUIRED
    )
    # Then it is refused (the wait ends at once instead), and nothing is parked
    stored = stores.updates.get(record.update_id)
    assert parked is False
    assert stored is not None and stored.task_token is None


def test_a_terminal_save_reports_the_token_it_drops_and_a_finished_update_takes_none(stores: Stores) -> None:
    # Given an update with a parked token
    record = waiting_update()
    stores.updates.create(record)
    waiting = UpdateStatus.AUTHENTICATION_REQUIRED
    stores.updates.park_task_token(record.update_id, "token-1", kind=WaitingTask.USER, while_status=waiting)
    # When it is saved as finished
    saved = stores.updates.save(record.model_copy(update={"status": UpdateStatus.FAILED}), expected_version=0)
    # Then the save names the token it found (so its task can be released), the token is gone, and no wait can park
    # one any more
    assert saved.task_token == "token-1"
    stored = stores.updates.get(record.update_id)
    assert stored is not None and stored.task_token is None
    assert (
        stores.updates.park_task_token(record.update_id, "token-2", kind=WaitingTask.USER, while_status=waiting)
        is False
    )


def test_no_token_is_parked_on_an_update_that_does_not_exist(stores: Stores) -> None:
    waiting = UpdateStatus.AUTHENTICATION_REQUIRED
    assert stores.updates.park_task_token("e" * 32, "token-1", kind=WaitingTask.USER, while_status=waiting) is False
    assert stores.updates.get("e" * 32) is None


def test_a_poll_loop_claims_the_polls_and_a_duplicate_start_of_it_is_refused(stores: Stores) -> None:
    # Given an open update, and a Poll task entered at some moment
    record = waiting_update()
    stores.updates.create(record)
    entered = "2026-11-24T10:00:00.100Z/0"
    # When its first loop claims the polls, and a second start of that same loop (Express starts at least once) too
    first = stores.updates.claim_polls(
        record.update_id, loop_id="loop-1", previous_loop_id=None, token="poll-token", task_entered_at=entered
    )
    twin = stores.updates.claim_polls(
        record.update_id, loop_id="loop-2", previous_loop_id=None, token="poll-token", task_entered_at=entered
    )
    # Then the first has them (with the record, and the Poll task's token parked), the twin is refused
    assert first is not None and first.record == record
    assert (first.task_token, first.task_kind) == ("poll-token", WaitingTask.POLL)
    assert twin is None


def test_a_continuing_loop_takes_the_polls_from_its_predecessor_only(stores: Stores) -> None:
    # Given a loop that has the update's polls
    record = waiting_update()
    stores.updates.create(record)
    entered = "2026-11-24T10:00:00.100Z/0"
    claim = stores.updates.claim_polls
    claim(record.update_id, loop_id="loop-1", previous_loop_id=None, token="t", task_entered_at=entered)
    # When its successor claims them (twice: its own duplicate start), and a loop naming another predecessor too
    successor = claim(record.update_id, loop_id="loop-2", previous_loop_id="loop-1", token="t", task_entered_at=entered)
    twin = claim(record.update_id, loop_id="loop-3", previous_loop_id="loop-1", token="t", task_entered_at=entered)
    stranger = claim(record.update_id, loop_id="loop-4", previous_loop_id="loop-9", token="t", task_entered_at=entered)
    # Then only the successor has them
    assert successor is not None and twin is None and stranger is None


def test_the_loop_that_has_the_polls_may_claim_them_again(stores: Stores) -> None:
    # Given a first loop and its successor, each having claimed the polls once
    record = waiting_update()
    stores.updates.create(record)
    entered = "2026-11-24T10:00:00.100Z/0"
    claim = stores.updates.claim_polls
    assert claim(record.update_id, loop_id="loop-1", previous_loop_id=None, token="t", task_entered_at=entered)
    first_again = claim(record.update_id, loop_id="loop-1", previous_loop_id=None, token="t", task_entered_at=entered)
    assert claim(record.update_id, loop_id="loop-2", previous_loop_id="loop-1", token="t", task_entered_at=entered)
    # When the successor's poll is retried (its first attempt claimed, then AWS throttled it), and the first loop's too
    again = claim(record.update_id, loop_id="loop-2", previous_loop_id="loop-1", token="t", task_entered_at=entered)
    old_again = claim(record.update_id, loop_id="loop-1", previous_loop_id=None, token="t", task_entered_at=entered)
    # Then the loop holding the polls claims them again; one that handed them on does not
    assert first_again is not None and again is not None
    assert old_again is None


def test_a_later_poll_task_takes_the_polls_and_an_earlier_ones_loop_cannot_take_them_back(stores: Stores) -> None:
    # Given a loop of a Poll task that has the update's polls
    record = waiting_update()
    stores.updates.create(record)
    claim = stores.updates.claim_polls
    claim(record.update_id, loop_id="old", previous_loop_id=None, token="t1", task_entered_at="2026-11-24T10:00:00Z/0")
    # When the workflow's next Poll task starts its loop, and a late start of the earlier task's loop comes after
    later = claim(
        record.update_id, loop_id="new", previous_loop_id=None, token="t2", task_entered_at="2026-11-24T10:05:00Z/0"
    )
    late = claim(
        record.update_id, loop_id="late", previous_loop_id=None, token="t1", task_entered_at="2026-11-24T10:00:00Z/0"
    )
    # Then the later task's loop has them and its token is the one parked
    assert later is not None and later.task_token == "t2"
    assert late is None
    stored = stores.updates.get(record.update_id)
    assert stored is not None and stored.task_token == "t2"


def test_no_loop_claims_the_polls_of_an_update_that_does_not_exist(stores: Stores) -> None:
    assert (
        stores.updates.claim_polls("e" * 32, loop_id="l", previous_loop_id=None, token="t", task_entered_at="x") is None
    )


def test_only_one_of_many_concurrent_answers_claims_the_round(stores: Stores) -> None:
    # Given an update waiting for round 1
    record = waiting_update()
    stores.updates.create(record)

    # When ten duplicate submissions race for round 1
    def claim(_: int) -> bool:
        return stores.updates.claim_round(record.update_id, auth_round=1, now=NOW, lease=LEASE)

    with ThreadPoolExecutor(max_workers=10) as pool:
        claims = list(pool.map(claim, range(10)))
    # Then exactly one may talk to finAPI
    assert claims.count(True) == 1


def test_a_released_round_can_be_claimed_again(stores: Stores) -> None:
    # Given a claimed round (an answer on its way to finAPI)
    record = waiting_update()
    stores.updates.create(record)
    assert stores.updates.claim_round(record.update_id, auth_round=1, now=NOW, lease=LEASE)
    # When the claim is released (finAPI was unreachable: the same answer may be sent again)
    stores.updates.release_round(record.update_id, auth_round=1)
    # Then the round can be claimed again
    assert stores.updates.claim_round(record.update_id, auth_round=1, now=NOW, lease=LEASE)


def test_releasing_another_round_leaves_the_claim(stores: Stores) -> None:
    record = waiting_update(auth_round=2)
    stores.updates.create(record)
    assert stores.updates.claim_round(record.update_id, auth_round=2, now=NOW, lease=LEASE)
    stores.updates.release_round(record.update_id, auth_round=1)
    assert not stores.updates.claim_round(record.update_id, auth_round=2, now=NOW, lease=LEASE)


def test_a_claim_whose_lease_ran_out_can_be_taken_over(stores: Stores) -> None:
    # Given a claim whose answerer died (never released)
    record = waiting_update()
    stores.updates.create(record)
    assert stores.updates.claim_round(record.update_id, auth_round=1, now=NOW, lease=LEASE)
    # When another answer comes within the lease, and one after it
    within = stores.updates.claim_round(record.update_id, auth_round=1, now=NOW + LEASE, lease=LEASE)
    after = stores.updates.claim_round(record.update_id, auth_round=1, now=NOW + LEASE * 2, lease=LEASE)
    # Then the first is turned away and the second takes over
    assert (within, after) == (False, True)


def test_a_round_the_update_is_not_in_cannot_be_claimed(stores: Stores) -> None:
    # Given an update in round 2
    record = waiting_update(auth_round=2)
    stores.updates.create(record)
    # Then an answer to round 1 (an old page) or 3 claims nothing, nor does one for an unknown update
    assert not stores.updates.claim_round(record.update_id, auth_round=1, now=NOW, lease=LEASE)
    assert not stores.updates.claim_round(record.update_id, auth_round=3, now=NOW, lease=LEASE)
    assert not stores.updates.claim_round("d" * 32, auth_round=1, now=NOW, lease=LEASE)


def test_a_new_round_can_be_claimed_after_the_last_one_was(stores: Stores) -> None:
    # Given round 1 claimed and answered, and the bank asking a second round
    record = waiting_update()
    stores.updates.create(record)
    assert stores.updates.claim_round(record.update_id, auth_round=1, now=NOW, lease=LEASE)
    stores.updates.save(record.model_copy(update={"auth_round": 2}), expected_version=0)
    # Then round 2 is free for its answer
    assert stores.updates.claim_round(record.update_id, auth_round=2, now=NOW, lease=LEASE)


def test_open_updates_are_the_unfinished_ones_created_before_the_moment(stores: Stores) -> None:
    # Given updates created an hour ago (open, and finished) and one just now
    hour_ago = NOW - timedelta(hours=1)
    old_open = waiting_update("1" * 32, created_at=hour_ago)
    old_done = waiting_update("2" * 32, created_at=hour_ago)
    recent = waiting_update("3" * 32, created_at=NOW)
    for record in (old_open, old_done, recent):
        stores.updates.create(record)
    stores.updates.save(old_done.model_copy(update={"status": UpdateStatus.SUCCEEDED}), expected_version=0)
    # When the reconciler asks for open updates older than ten minutes
    found = list(stores.updates.open_updates(created_before=NOW - timedelta(minutes=10)))
    # Then only the old open one is listed
    assert found == [old_open.update_id]


def test_open_updates_span_every_shard(stores: Stores) -> None:
    # Given open updates of many connections (spread over the index's shards)
    records = [
        waiting_update(f"{n:032x}", created_at=NOW - timedelta(minutes=n)).model_copy(update={"connection_id": n})
        for n in range(1, 21)
    ]
    for record in records:
        stores.updates.create(record)
    # Then every one created before now is found, each once
    found = list(stores.updates.open_updates(created_before=NOW))
    assert sorted(found) == sorted(r.update_id for r in records)


def test_a_callback_link_finds_its_update(stores: Stores) -> None:
    # Given a callback token linked to an update (by its digest)
    stores.updates.link_callback("digest-1", "a" * 32, expires_at=NOW + timedelta(hours=1))
    # Then the digest finds the update, and another digest finds nothing
    assert stores.updates.find_by_callback("digest-1") == "a" * 32
    assert stores.updates.find_by_callback("digest-2") is None


@pytest.fixture
def dynamodb_updates(state_table: str) -> UpdateStore:
    """The DynamoDB store alone: an answer lost on the wire, and botocore's retry of it, are DynamoDB's."""
    from bankupdate.stores.updates import DynamoUpdateStore

    return DynamoUpdateStore(state_table, timedelta(days=30), SHARDS)


def test_a_save_whose_answer_was_lost_and_retried_is_the_save_not_a_stale_one(dynamodb_updates: UpdateStore) -> None:
    from bankupdate.stores.aws import client

    updates = dynamodb_updates
    # Given an update, and a first answer to the next save lost on its way back (botocore retries the write, which
    # had landed: the retry's condition fails on the version it raised itself)
    record = waiting_update()
    updates.create(record)
    # When the save is made
    with LostAnswers(client("dynamodb"), "UpdateItem") as lost:
        saved = updates.save(record.model_copy(update={"poll_count": 1}), expected_version=0)
    # Then it was retried, and reports the write as done: version 1, stored as written
    assert lost.retried == 1
    stored = updates.get(record.update_id)
    assert saved.record.version == 1
    assert stored is not None and stored.record == saved.record
    # And another writer that read version 0 is still refused
    with pytest.raises(StaleUpdate):
        updates.save(record.model_copy(update={"poll_count": 9}), expected_version=0)
