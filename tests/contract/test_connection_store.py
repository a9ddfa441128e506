"""ConnectionStore: the lock, the user's trigger rate and the outcome written with the release, alike in memory and
on DynamoDB."""

from __future__ import annotations

import itertools
import math
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bankupdate.domain.model import ConnectionHealth, SkipReason, UpdateStatus
from bankupdate.domain.trigger_rate import TriggerRate
from bankupdate.ports import ConnectionOutcome, LockAttempt, LockRefusal
from tests.contract.conftest import Stores
from tests.contract.lost_answers import LostAnswers
from tests.contract.records import NOW, OWNER, facts, first_record

LEASE = NOW + timedelta(minutes=30)
RATE = TriggerRate(limit=2, window_seconds=600)


def test_twenty_concurrent_takers_get_the_lock_exactly_once(stores: Stores) -> None:
    # Given a known connection
    stores.connections.record_facts(OWNER, facts(7), NOW)

    # When 20 updates try to take its lock at the same time
    def take(n: int) -> tuple[LockRefusal | None, str | None]:
        attempt = stores.connections.acquire_lock(OWNER, 7, update_id=f"u{n}", now=NOW, lease_until=LEASE)
        return attempt.refused, attempt.holder

    with ThreadPoolExecutor(max_workers=20) as pool:
        attempts = list(pool.map(take, range(20)))
    # Then exactly one got it, and everyone else was told who holds it
    winners = [n for n, (refused, _) in enumerate(attempts) if refused is None]
    assert len(winners) == 1
    assert {holder for refused, holder in attempts if refused is not None} == {f"u{winners[0]}"}
    assert all(refused in (None, LockRefusal.HELD) for refused, _ in attempts)
    stored = stores.connections.get(OWNER, 7)
    assert stored is not None and stored.active_update_id == f"u{winners[0]}"


def test_only_the_holder_releases_and_an_expired_lease_can_be_taken_over(stores: Stores) -> None:
    # Given a connection locked by update a for a minute
    stores.connections.record_facts(OWNER, facts(7), NOW)
    minute = NOW + timedelta(minutes=1)
    assert stores.connections.acquire_lock(OWNER, 7, update_id="a", now=NOW, lease_until=minute).refused is None
    # When b tries to release it, then to take it
    released_by_b = stores.connections.release(OWNER, 7, update_id="b", outcome=None)
    refused = stores.connections.acquire_lock(OWNER, 7, update_id="b", now=NOW, lease_until=minute)
    # Then nothing happens, and b is told that a holds it
    assert released_by_b is False
    assert (refused.refused, refused.holder) == (LockRefusal.HELD, "a")
    assert refused.connection is not None and refused.connection.active_update_id == "a"
    # When the lease has run out (its holder crashed)
    later = NOW + timedelta(minutes=2)
    taken = stores.connections.acquire_lock(
        OWNER, 7, update_id="b", now=later, lease_until=later + timedelta(minutes=1)
    )
    # Then b takes it over, and only b can release it
    assert taken.refused is None
    assert taken.connection is not None and taken.connection.active_update_id == "b"
    assert stores.connections.release(OWNER, 7, update_id="a", outcome=None) is False
    assert stores.connections.release(OWNER, 7, update_id="b", outcome=None) is True
    record = stores.connections.get(OWNER, 7)
    assert record is not None and record.active_update_id is None and record.lock_expires_at is None


def test_a_lease_is_held_through_its_last_second(stores: Stores) -> None:
    # Given a lock whose lease ends at a whole second
    stores.connections.record_facts(OWNER, facts(7), NOW)
    stores.connections.acquire_lock(OWNER, 7, update_id="a", now=NOW, lease_until=NOW + timedelta(seconds=60))
    # When another update comes at that very second, and one second later
    at_end = NOW + timedelta(seconds=60)
    during = stores.connections.acquire_lock(
        OWNER, 7, update_id="b", now=at_end, lease_until=at_end + timedelta(minutes=1)
    )
    after = at_end + timedelta(seconds=1)
    taken = stores.connections.acquire_lock(
        OWNER, 7, update_id="c", now=after, lease_until=after + timedelta(minutes=1)
    )
    # Then the first is refused and the second takes it over
    assert (during.refused, taken.refused) == (LockRefusal.HELD, None)


def test_a_connection_seen_for_the_first_time_is_created_by_the_write_that_locks_it(stores: Stores) -> None:
    # Given no record of connection 8
    assert stores.connections.get(OWNER, 8) is None
    # When an update takes its lock, with the connection's first record
    attempt = stores.connections.acquire_lock(
        OWNER, 8, update_id="a", now=NOW, lease_until=LEASE, create=first_record(8), rate=RATE
    )
    # Then the lock is ours, the connection exists as that write left it, and the trigger is counted
    assert attempt.refused is None
    assert attempt.connection is not None and attempt.connection == stores.connections.get(OWNER, 8)
    assert (attempt.connection.created_at, attempt.connection.active_update_id) == (NOW, "a")
    assert attempt.connection.health.known_account_ids == (11, 12)
    assert attempt.connection.user_triggers == (RATE.stamp(NOW),)
    # And the later nested writes find what they rely on
    stores.connections.record_facts(OWNER, facts(8, user_action_required=True), NOW)
    stored = stores.connections.get(OWNER, 8)
    assert stored is not None and stored.health.user_action_required is True


def test_taking_the_lock_never_overwrites_what_the_connection_already_holds(stores: Stores) -> None:
    # Given a connection with history (it needs the user) and no lock
    stores.connections.record_facts(OWNER, facts(9, user_action_required=True), NOW)
    # When a later update takes its lock, offering a first record
    later = NOW + timedelta(days=3)
    attempt = stores.connections.acquire_lock(
        OWNER,
        9,
        update_id="b",
        now=later,
        lease_until=later + timedelta(minutes=1),
        create=first_record(9, created_at=later),
    )
    # Then the connection keeps its creation time and health
    assert attempt.refused is None and attempt.connection is not None
    assert attempt.connection.created_at == NOW
    assert attempt.connection.health.user_action_required is True


def test_an_unknown_connection_is_refused_as_missing_and_nothing_is_written(stores: Stores) -> None:
    # Given no record of connection 10
    # When an update tries its lock without a first record
    attempt = stores.connections.acquire_lock(OWNER, 10, update_id="a", now=NOW, lease_until=LEASE, rate=RATE)
    # Then it is refused and nothing was written
    assert (attempt.refused, attempt.holder, attempt.connection) == (LockRefusal.MISSING, None, None)
    assert stores.connections.get(OWNER, 10) is None


def _trigger(stores: Stores, at: datetime, rate: TriggerRate = RATE, connection_id: int = 7) -> LockAttempt:
    """A user-present trigger at ``at``; when it takes the lock, its update ends at once (the lock is free again)."""
    update_id = f"u{at.timestamp()}"
    attempt = stores.connections.acquire_lock(
        OWNER, connection_id, update_id=update_id, now=at, lease_until=at + timedelta(minutes=1), rate=rate
    )
    stores.connections.release(OWNER, connection_id, update_id=update_id, outcome=None)
    return attempt


def test_the_users_triggers_are_limited_in_a_sliding_window(stores: Stores) -> None:
    # Given a connection and a limit of two user-present updates in any ten minutes, used up a minute apart
    stores.connections.record_facts(OWNER, facts(7), NOW)
    minute = NOW + timedelta(minutes=1)
    assert _trigger(stores, NOW).refused is None and _trigger(stores, minute).refused is None
    # When a third comes a second before ten minutes have passed since the first
    late = NOW + timedelta(seconds=RATE.window_seconds - 1)
    third = _trigger(stores, late)
    # Then it is refused for the rate, the lock stays free, and the user is told to wait exactly that second
    assert third.refused is LockRefusal.RATE and third.connection is not None
    assert RATE.retry_after_seconds(third.connection.user_triggers, late) == 1
    stored = stores.connections.get(OWNER, 7)
    assert stored is not None and stored.active_update_id is None
    assert stored.user_triggers == (RATE.stamp(NOW), RATE.stamp(minute))
    # When that second has passed, one more fits (the first left the window), and the next waits for the second
    at_ten = NOW + timedelta(seconds=RATE.window_seconds)
    assert _trigger(stores, at_ten).refused is None
    refused = _trigger(stores, at_ten)
    assert refused.refused is LockRefusal.RATE and refused.connection is not None
    assert RATE.retry_after_seconds(refused.connection.user_triggers, at_ten) == 60


def test_a_burst_across_a_window_boundary_never_exceeds_the_limit(stores: Stores) -> None:
    # Given a limit of five updates in any 25 s (issue 20: fixed windows let nine through within 25 s)
    rate = TriggerRate(limit=5, window_seconds=25)
    stores.connections.record_facts(OWNER, facts(7), NOW)
    # When the user triggers once, four times 24 s later, and five more times a second after that, one per second
    times = [NOW] + [NOW + timedelta(seconds=24)] * 4 + [NOW + timedelta(seconds=25 + n) for n in range(5)]
    admitted = [t for t in times if _trigger(stores, t, rate).refused is None]
    # Then no 25 s hold more than five: the first, the four, and one more once the first has left the window
    assert admitted == times[:6]


def test_a_burst_of_triggers_is_limited_even_across_a_round_minute(stores: Stores) -> None:
    # Given a connection whose user starts syncing a second before a round ten minutes of the clock
    stores.connections.record_facts(OWNER, facts(7), NOW)
    epoch = int(NOW.timestamp())
    before_round = NOW + timedelta(seconds=RATE.window_seconds - epoch % RATE.window_seconds - 1)
    refusals = []
    # When they trigger four times within three seconds, across that round time
    for n in range(4):
        at = before_round + timedelta(seconds=n)
        attempt = stores.connections.acquire_lock(
            OWNER, 7, update_id=f"u{n}", now=at, lease_until=at + timedelta(minutes=1), rate=RATE
        )
        refusals.append(attempt.refused)
        stores.connections.release(OWNER, 7, update_id=f"u{n}", outcome=None)
    # Then only two reach the bank: the clock's boundary does not split the burst into two windows
    assert refusals == [None, None, LockRefusal.RATE, LockRefusal.RATE]


def test_a_lock_refused_as_held_does_not_count_a_trigger(stores: Stores) -> None:
    # Given a connection whose lock is held, after one counted trigger
    stores.connections.record_facts(OWNER, facts(7), NOW)
    stores.connections.acquire_lock(OWNER, 7, update_id="a", now=NOW, lease_until=LEASE, rate=RATE)
    # When the user triggers again while it runs
    refused = stores.connections.acquire_lock(OWNER, 7, update_id="b", now=NOW, lease_until=LEASE, rate=RATE)
    # Then it is refused as held, and the count stays at one
    stored = stores.connections.get(OWNER, 7)
    assert refused.refused is LockRefusal.HELD
    assert stored is not None and stored.user_triggers == (RATE.stamp(NOW),)


def test_an_unattended_lock_counts_no_trigger(stores: Stores) -> None:
    stores.connections.record_facts(OWNER, facts(7), NOW)
    taken = stores.connections.acquire_lock(OWNER, 7, update_id="a", now=NOW, lease_until=LEASE)
    assert taken.connection is not None and taken.connection.user_triggers == ()


def _scheduled(stores: Stores, connection_id: int) -> None:
    stores.connections.record_facts(OWNER, facts(connection_id), NOW)
    stores.schedules.set_schedule(OWNER, connection_id, enabled=True, next_due_at=NOW)
    stores.connections.acquire_lock(OWNER, connection_id, update_id="a", now=NOW, lease_until=LEASE)


def _health() -> ConnectionHealth:
    return ConnectionHealth(last_attempt_at=NOW, last_outcome=UpdateStatus.FAILED, user_action_required=True)


def test_the_release_writes_the_outcome_and_moves_the_schedule(stores: Stores) -> None:
    # Given a scheduled connection locked by update a
    _scheduled(stores, 7)
    # When a finishes, needing the user (no next background update)
    outcome = ConnectionOutcome(health=_health(), reschedule=True, skip=SkipReason.USER_ACTION_REQUIRED)
    released = stores.connections.release(OWNER, 7, update_id="a", outcome=outcome)
    # Then health and skip are written, the lock is free, and the connection left the due index
    stored = stores.connections.get(OWNER, 7)
    assert released is True and stored is not None
    assert stored.health == _health() and stored.active_update_id is None
    assert (stored.schedule.next_due_at, stored.schedule.last_skip_reason) == (None, SkipReason.USER_ACTION_REQUIRED)
    assert stored.schedule.last_skip_at == NOW
    assert list(stores.schedules.due(now=NOW + timedelta(days=9))) == []


def test_a_scheduled_update_that_ran_clears_the_skip_before_it(stores: Stores) -> None:
    # Given a scheduled connection whose last run was skipped, now locked by a scheduled update
    _scheduled(stores, 7)
    stores.schedules.reschedule(OWNER, 7, next_due_at=NOW, skip=SkipReason.BUDGET_EXHAUSTED, now=NOW)
    # When that update finishes and moves the schedule on
    health = ConnectionHealth(last_success_at=NOW, last_attempt_at=NOW, last_outcome=UpdateStatus.SUCCEEDED)
    outcome = ConnectionOutcome(health=health, next_due_at=NOW + timedelta(hours=6), reschedule=True)
    stores.connections.release(OWNER, 7, update_id="a", outcome=outcome)
    # Then the last run was not skipped: neither a reason nor a time of a skip is left
    stored = stores.connections.get(OWNER, 7)
    assert stored is not None and (stored.schedule.last_skip_reason, stored.schedule.last_skip_at) == (None, None)


def test_the_release_can_move_the_next_due_slot(stores: Stores) -> None:
    # Given a scheduled connection locked by update a
    _scheduled(stores, 7)
    # When a's success brings the next background update to tomorrow
    tomorrow = NOW + timedelta(days=1)
    outcome = ConnectionOutcome(health=_health(), next_due_at=tomorrow, reschedule=True)
    stores.connections.release(OWNER, 7, update_id="a", outcome=outcome)
    # Then the connection is due tomorrow, not before
    stored = stores.connections.get(OWNER, 7)
    assert stored is not None and stored.schedule.next_due_at == tomorrow and stored.schedule.last_skip_reason is None
    assert list(stores.schedules.due(now=NOW)) == []
    assert list(stores.schedules.due(now=tomorrow)) == [(OWNER, 7, tomorrow)]


def test_a_release_never_brings_back_a_schedule_the_user_switched_off(stores: Stores) -> None:
    # Given a locked connection whose user switched background updates off meanwhile
    _scheduled(stores, 7)
    stores.schedules.set_schedule(OWNER, 7, enabled=False, next_due_at=None)
    # When the update finishes with a reschedule
    outcome = ConnectionOutcome(health=_health(), next_due_at=NOW + timedelta(hours=6), reschedule=True)
    released = stores.connections.release(OWNER, 7, update_id="a", outcome=outcome)
    # Then the lock is released and health written, but the connection stays out of the schedule
    stored = stores.connections.get(OWNER, 7)
    assert released is True and stored is not None
    assert stored.health == _health() and stored.active_update_id is None
    assert (stored.schedule.enabled, stored.schedule.next_due_at) == (False, None)
    assert list(stores.schedules.due(now=NOW + timedelta(days=1))) == []


def test_a_release_without_reschedule_leaves_the_schedule_alone(stores: Stores) -> None:
    _scheduled(stores, 7)
    stores.connections.release(OWNER, 7, update_id="a", outcome=ConnectionOutcome(health=_health()))
    stored = stores.connections.get(OWNER, 7)
    assert stored is not None and stored.schedule.next_due_at == NOW and stored.schedule.last_skip_reason is None
    assert list(stores.schedules.due(now=NOW)) == [(OWNER, 7, NOW)]


def test_someone_elses_release_writes_no_outcome(stores: Stores) -> None:
    # Given a connection locked by a
    _scheduled(stores, 7)
    # When b (whose lease ran out long ago) finishes and releases with its outcome
    released = stores.connections.release(OWNER, 7, update_id="b", outcome=ConnectionOutcome(health=_health()))
    # Then nothing changes: a still holds the lock and the health is untouched
    stored = stores.connections.get(OWNER, 7)
    assert released is False
    assert stored is not None and stored.active_update_id == "a" and stored.health.last_outcome is None


def test_releasing_an_unknown_connection_is_refused(stores: Stores) -> None:
    assert stores.connections.release(OWNER, 99, update_id="a", outcome=ConnectionOutcome(health=_health())) is False
    assert stores.connections.get(OWNER, 99) is None


def test_facts_create_a_connection_or_refresh_what_finapi_says(stores: Stores) -> None:
    # Given a connection recorded from finAPI's list, with a consent
    consent = NOW + timedelta(days=90)
    stores.connections.record_facts(OWNER, facts(7, consent=consent), NOW)
    created = stores.connections.get(OWNER, 7)
    assert created is not None and created.created_at == NOW and created.health.known_account_ids == (11, 12)
    # When a later sync says it needs the user, without a consent date
    stores.connections.record_facts(OWNER, facts(7, user_action_required=True), NOW + timedelta(days=1))
    # Then the flag is refreshed and everything else is kept
    refreshed = stores.connections.get(OWNER, 7)
    assert refreshed is not None
    assert refreshed.health.user_action_required is True
    assert refreshed.health.consent_expires_at == consent
    assert refreshed.created_at == NOW and refreshed.health.known_account_ids == (11, 12)


def test_every_trigger_takes_the_lock_and_counts_itself_in_one_write(state_table: str) -> None:
    # Given a known connection on DynamoDB that was never synced by its user (recorded from finAPI's list)
    from bankupdate.stores.aws import client
    from bankupdate.stores.connections import DynamoConnectionStore

    store = DynamoConnectionStore(state_table, 4)
    store.record_facts(OWNER, facts(7), NOW)
    writes: list[str] = []
    client("dynamodb").meta.events.register("before-call.dynamodb.UpdateItem", lambda **_: writes.append("write"))
    # When the user triggers, and then again within the window
    for n, at in enumerate((NOW, NOW + timedelta(seconds=5))):
        writes.clear()
        taken = store.acquire_lock(OWNER, 7, update_id=f"u{n}", now=at, lease_until=LEASE, rate=RATE)
        # Then each took the lock and was counted in one conditional write
        assert taken.refused is None and writes == ["write"]
        store.release(OWNER, 7, update_id=f"u{n}", outcome=None)
    stored = store.get(OWNER, 7)
    assert stored is not None and stored.user_triggers == (RATE.stamp(NOW), RATE.stamp(NOW + timedelta(seconds=5)))


def test_a_lock_whose_answer_was_lost_and_retried_is_taken_not_refused_as_held_by_itself(state_table: str) -> None:
    # Given a known connection on DynamoDB, and the first answer to the next lock taken lost on its way back
    # (botocore retries the write, which had landed: the retry finds the lock held, by the same update)
    from bankupdate.stores.aws import client
    from bankupdate.stores.connections import DynamoConnectionStore

    store = DynamoConnectionStore(state_table, 4)
    store.record_facts(OWNER, facts(7), NOW)
    # When an update takes the lock
    with LostAnswers(client("dynamodb"), "UpdateItem") as lost:
        taken = store.acquire_lock(OWNER, 7, update_id="u1", now=NOW, lease_until=LEASE)
    # Then the retry happened, and the update has the lock: it is not told that it holds it itself
    assert lost.retried == 1
    assert (taken.refused, taken.holder) == (None, None)
    stored = store.get(OWNER, 7)
    assert stored is not None and stored.active_update_id == "u1"
    # And another update is still refused, told who holds it
    other = store.acquire_lock(OWNER, 7, update_id="u2", now=NOW, lease_until=LEASE)
    assert (other.refused, other.holder) == (LockRefusal.HELD, "u1")


_PROPERTY_CONNECTIONS = itertools.count(1000)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    limit=st.integers(min_value=1, max_value=4),
    window=st.integers(min_value=2, max_value=40),
    gaps=st.lists(st.floats(min_value=0, max_value=45, allow_nan=False), min_size=1, max_size=16),
)
def test_no_stretch_of_the_windows_length_ever_admits_more_than_the_limit(
    stores: Stores, limit: int, window: int, gaps: list[float]
) -> None:
    # Given any limit and window, and a user triggering at any moments (within a second of each other too)
    rate = TriggerRate(limit=limit, window_seconds=window)
    connection = next(_PROPERTY_CONNECTIONS)
    stores.connections.record_facts(OWNER, facts(connection), NOW)
    admitted: list[float] = []
    at = NOW + timedelta(microseconds=123_457)
    for gap in gaps:
        at += timedelta(seconds=gap)
        moment = at.timestamp()
        room = len(admitted) < limit or admitted[-limit] <= moment - window - 1
        attempt = _trigger(stores, at, rate, connection)
        if attempt.refused is None:
            admitted.append(moment)
            continue
        # A refusal: only for the rate, never while the window holds fewer than the limit (by a second's rounding)
        assert attempt.refused is LockRefusal.RATE and attempt.connection is not None
        assert not room
        # and the wait it names is exact: to the whole second when the oldest admission it counts leaves the window
        leaves = math.ceil(admitted[-limit]) + window
        assert rate.retry_after_seconds(attempt.connection.user_triggers, at) == max(1, math.ceil(leaves - moment))
    # Then no stretch of the window's length, wherever it starts, admitted more than the limit
    assert all(sum(1 for t in admitted if start <= t < start + window) <= limit for start in admitted)
