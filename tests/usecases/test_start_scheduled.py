"""StartScheduledUpdate: the unattended start, done by the due message's handler itself (record, the claim that finAPI
is being called, lock, one unit of the bank's day's budget, finAPI without PSU data, workflow), and exactly one start
per slot however often, and however concurrently, the slot is delivered."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest

from bankupdate.contract import DueConnection, PollLoopState, PollNext
from bankupdate.domain.errors import AwsThrottled
from bankupdate.domain.events import ConnectionNeedsUser, UpdateSucceeded
from bankupdate.domain.model import ConnectionRecord, SkipReason, UpdateMode, UpdateStatus
from bankupdate.usecases.start_scheduled_update import ScheduledStart, StartPostponed
from tests.usecases.polling import ExpressLoop, connection_reads, output_of, states_of
from tests.usecases.scheduled import due_of, opted_in, recorded_by_a_start_that_died, slot_update
from tests.usecases.system import DEMO, BankUser, System


def connection_of(system: System, user: BankUser) -> ConnectionRecord:
    connection = system.connections.get(user.owner_id, user.connection)
    assert connection is not None
    return connection


def budget_used(system: System, user: BankUser) -> int:
    return sum(connection_of(system, user).unattended.values())


def finapi_updates(system: System, user: BankUser) -> int:
    """Calls of finAPI's update endpoint for the connection that finAPI took (a refused token is no call)."""
    return sum(1 for c in system.update_calls(user.connection) if c.status != 401)


def test_an_unattended_update_takes_the_lock_and_one_unit_of_budget_and_calls_finapi_without_psu(
    system: System,
) -> None:
    # Given a connection opted in to background updates, due now
    user = opted_in(system)
    due = due_of(system, user)
    # When its due message is handled
    outcome = system.start_scheduled(due)
    # Then the slot's update runs at finAPI, called once without PSU headers (the bank counts it against its day's
    # budget, of which one unit is spent), the connection is locked by it, and its workflow started
    update_id = slot_update(due)
    running = system.record(update_id)
    assert outcome is ScheduledStart.STARTED
    assert (running.mode, running.status) == (UpdateMode.UNATTENDED, UpdateStatus.IN_PROGRESS)
    assert running.finapi_called_at is not None and running.start_confirmed
    (call,) = system.update_calls(user.connection)
    assert call.psu_present is False
    assert budget_used(system, user) == 1 and connection_of(system, user).active_update_id == update_id
    assert [s.update_id for s in system.workflow.starts] == [update_id]
    # When its workflow runs
    system.run(update_id)
    # Then its poll loop saw it succeed: the lock is free, the app told, the budget spent once
    assert system.record(update_id).status is UpdateStatus.SUCCEEDED
    assert states_of(system, update_id) == ["Poll"] and output_of(system, update_id).status is UpdateStatus.SUCCEEDED
    assert connection_of(system, user).active_update_id is None and budget_used(system, user) == 1
    assert [type(e) for e in system.events.events] == [UpdateSucceeded]


def test_a_bank_that_wants_sca_fails_the_scheduled_update_as_needing_the_user(system: System) -> None:
    # Given a scheduled connection whose bank asks for SCA by now (finAPI flags it; we have not heard yet)
    user = opted_in(system, stored_pin=True)
    system.sandbox.world.connections[user.connection].user_action_required = True
    due = due_of(system, user)
    # When its due message is handled
    system.start_scheduled(due)
    # Then the update failed at once as needing the user, the app is told, and background updates stop until the
    # user acts
    update_id = slot_update(due)
    failed = system.record(update_id)
    assert failed.status is UpdateStatus.FAILED and failed.error is not None
    assert (failed.error.code, failed.error.user_action_required) == ("USER_ACTION_REQUIRED", True)
    (needs_user,) = system.events.of_type(ConnectionNeedsUser)
    assert (needs_user.update_id, needs_user.reason) == (update_id, "USER_ACTION_REQUIRED")
    connection = connection_of(system, user)
    assert connection.health.user_action_required is True and connection.active_update_id is None
    assert connection.schedule.last_skip_reason is SkipReason.USER_ACTION_REQUIRED
    assert list(system.schedules.due(now=system.clock.now() + timedelta(days=30))) == []
    # And whatever workflow runs for it asks finAPI nothing more and ends
    reads = connection_reads(system, user.connection)
    system.run(update_id)
    assert not system.workflow.is_open(update_id) and connection_reads(system, user.connection) == reads
    assert finapi_updates(system, user) == 1


def test_a_scheduled_update_whose_consent_expired_needs_the_user(system: System) -> None:
    # Given a scheduled connection whose consent ran out since it was last synced
    user = opted_in(system)
    system.sandbox.world.connections[user.connection].consent_expires_at = system.sandbox.world.now() - timedelta(1)
    due = due_of(system, user)
    # When its due message is handled
    system.start_scheduled(due)
    # Then finAPI refused it for the consent, and the update needs the user
    failed = system.record(slot_update(due))
    assert failed.status is UpdateStatus.FAILED and failed.error is not None
    assert (failed.error.code, failed.error.upstream_code) == ("USER_ACTION_REQUIRED", "INVALID_CONSENT")
    assert connection_of(system, user).active_update_id is None


def test_a_scheduled_update_finapi_fails_with_5xx_fails_retryably(system: System) -> None:
    # Given finAPI answering its update endpoint with 500
    user = opted_in(system)
    due = due_of(system, user)
    system.sandbox.world.add_fault(path="/bankConnections/update", status=500, times=1)
    # When the due message is handled
    system.start_scheduled(due)
    # Then the update failed retryably (finAPI answered: it started nothing), the lock is free, and the schedule goes
    # on at the next slot
    failed = system.record(slot_update(due))
    assert failed.status is UpdateStatus.FAILED and failed.error is not None
    assert (failed.error.code, failed.error.retryable) == ("UPSTREAM_UNAVAILABLE", True)
    connection = connection_of(system, user)
    assert connection.active_update_id is None and connection.schedule.next_due_at is not None
    assert connection.schedule.next_due_at > due.slot and connection.schedule.last_skip_reason is None


def test_a_lost_answer_to_the_scheduled_call_is_found_out_by_the_polls(system: System) -> None:
    # Given finAPI starting the download, but its answer getting lost on the way back
    user = opted_in(system)
    due = due_of(system, user)
    system.sandbox.world.add_fault(path="/bankConnections/update", drop=True, when="after", times=1)
    # When the due message is handled
    system.start_scheduled(due)
    # Then the update runs unconfirmed under its workflow
    update_id = slot_update(due)
    assert system.record(update_id).status is UpdateStatus.IN_PROGRESS
    assert system.record(update_id).start_confirmed is False
    # And its polls find finAPI's fresh result; finAPI was called once
    system.run(update_id)
    assert system.record(update_id).status is UpdateStatus.SUCCEEDED
    assert finapi_updates(system, user) == 1


def test_a_scheduled_call_finapi_never_got_fails_once_the_polls_find_no_fresh_result(system: System) -> None:
    # Given the connection dropping before finAPI got the scheduled update call
    user = opted_in(system)
    due = due_of(system, user)
    system.sandbox.world.add_fault(path="/bankConnections/update", drop=True, when="before", times=1)
    # When the due message is handled and the workflow polls
    system.start_scheduled(due)
    system.run(slot_update(due))
    # Then no fresh result means finAPI did not start: the update fails retryably, the lock is free
    failed = system.record(slot_update(due))
    assert failed.status is UpdateStatus.FAILED and failed.error is not None
    assert (failed.error.code, failed.error.retryable) == ("UPSTREAM_UNAVAILABLE", True)
    assert connection_of(system, user).active_update_id is None


# --------------------------------------------------------------------------------------------- one start per slot


def test_a_slot_delivered_again_after_its_update_finished_changes_nothing(system: System) -> None:
    # Given a slot whose update ran to its end
    user = opted_in(system)
    due = due_of(system, user)
    system.start_scheduled(due)
    system.run(slot_update(due))
    done = system.record(slot_update(due))
    assert done.status is UpdateStatus.SUCCEEDED
    # When SQS delivers the due message again
    again = system.start_scheduled(due)
    # Then it is a duplicate: finAPI is not called, the budget not spent, nothing recorded or started again
    assert again is ScheduledStart.DUPLICATE
    assert finapi_updates(system, user) == 1 and budget_used(system, user) == 1
    assert system.updates.all() == [done] and len(system.workflow.executions) == 1
    assert connection_of(system, user).active_update_id is None


def test_a_slot_delivered_again_while_its_update_runs_only_makes_sure_the_workflow_runs(system: System) -> None:
    # Given a slot whose update is downloading
    user = opted_in(system, download_seconds=30)
    due = due_of(system, user)
    system.start_scheduled(due)
    # When the due message comes again
    again = system.start_scheduled(due)
    # Then the workflow's start is repeated (harmless: one execution per update), nothing else
    assert again is ScheduledStart.DUPLICATE
    assert finapi_updates(system, user) == 1 and budget_used(system, user) == 1
    assert len(system.updates.all()) == 1 and len(system.workflow.executions) == 1
    system.run(slot_update(due))
    assert system.record(slot_update(due)).status is UpdateStatus.SUCCEEDED


@pytest.mark.parametrize("attempt", range(3))
def test_two_deliveries_of_one_slot_at_the_same_time_start_it_once(system: System, attempt: int) -> None:
    # Given a due connection, and its due message delivered twice at once (the schedule fired twice)
    user = opted_in(system)
    due = due_of(system, user)
    together = threading.Barrier(2)

    def deliver(_: int) -> ScheduledStart:
        together.wait(timeout=10)
        return system.start_scheduled(due)

    # When both are handled concurrently
    with ThreadPoolExecutor(max_workers=2) as pool:
        outcomes = list(pool.map(deliver, range(2)))
    # Then one update was recorded and sent to finAPI once, the budget spent once; whichever delivery lost the claim
    # left the update to the winner
    assert ScheduledStart.STARTED in outcomes and set(outcomes) <= {ScheduledStart.STARTED, ScheduledStart.DUPLICATE}
    assert [r.update_id for r in system.updates.all()] == [slot_update(due)]
    assert finapi_updates(system, user) == 1 and budget_used(system, user) == 1
    assert set(system.workflow.executions) == {slot_update(due)}
    # And the update runs to its end
    system.run(slot_update(due))
    assert system.record(slot_update(due)).status is UpdateStatus.SUCCEEDED


def test_a_slot_recorded_by_a_start_that_died_is_started_by_its_next_delivery(system: System) -> None:
    # Given a slot whose first delivery recorded the update and died before it called finAPI
    user = opted_in(system)
    due = due_of(system, user)
    update_id = recorded_by_a_start_that_died(system, due)
    # When the due message is delivered again
    again = system.start_scheduled(due)
    # Then that delivery goes on from the record: claim, lock, budget, finAPI, workflow
    assert again is ScheduledStart.DUPLICATE
    assert system.record(update_id).status is UpdateStatus.IN_PROGRESS
    assert finapi_updates(system, user) == 1 and budget_used(system, user) == 1
    system.run(update_id)
    assert system.record(update_id).status is UpdateStatus.SUCCEEDED


def test_a_start_that_died_before_its_workflow_is_completed_by_the_next_delivery(system: System) -> None:
    # Given a delivery that called finAPI but could not start the workflow (Step Functions throttled it)
    user = opted_in(system)
    due = due_of(system, user)
    system.workflow.start_error = RuntimeError("StartExecution throttled")
    with pytest.raises(RuntimeError):
        system.start_scheduled(due)
    system.workflow.start_error = None
    assert system.record(slot_update(due)).status is UpdateStatus.IN_PROGRESS
    # When SQS delivers the message again
    again = system.start_scheduled(due)
    # Then the workflow starts, finAPI is not called again and the budget not spent again
    assert again is ScheduledStart.DUPLICATE
    assert [s.update_id for s in system.workflow.starts] == [slot_update(due)]
    assert finapi_updates(system, user) == 1 and budget_used(system, user) == 1
    system.run(slot_update(due))
    assert system.record(slot_update(due)).status is UpdateStatus.SUCCEEDED


def test_a_connection_the_user_locked_since_the_slot_was_recorded_fails_the_slot_without_calling_finapi(
    system: System,
) -> None:
    # Given a slot recorded by a delivery that died before its claim, and the user's own update started since
    user = opted_in(system)
    due = due_of(system, user)
    update_id = recorded_by_a_start_that_died(system, due)
    running = system.trigger(user, credentials=DEMO)
    # When the due message is delivered again
    system.start_scheduled(due)
    # Then the scheduled update gave way: failed as already running, the user's update untouched, finAPI called
    # only by the user, the budget not spent
    failed = system.record(update_id)
    assert failed.status is UpdateStatus.FAILED and failed.error is not None
    assert failed.error.code == "UPDATE_ALREADY_RUNNING"
    assert finapi_updates(system, user) == 1
    assert connection_of(system, user).active_update_id == running.update_id and budget_used(system, user) == 0
    assert system.record(running.update_id).status is UpdateStatus.AUTHENTICATION_REQUIRED


def test_a_budget_spent_since_the_slot_was_recorded_fails_the_slot_without_calling_finapi(system: System) -> None:
    # Given a slot recorded by a delivery that died before its claim, and the bank day's budget used up since
    user = opted_in(system)
    due = due_of(system, user)
    update_id = recorded_by_a_start_that_died(system, due)
    budget = system.settings.budget
    for _ in range(budget.usable_per_day):
        assert system.schedules.consume_unattended(
            user.owner_id, user.connection, budget=budget, now=system.clock.now()
        )
    # When the due message is delivered again
    system.start_scheduled(due)
    # Then the update failed for the budget, finAPI never heard of it, and the schedule waits for the bank's next day
    failed = system.record(update_id)
    assert failed.status is UpdateStatus.FAILED and failed.error is not None
    assert failed.error.code == "UNATTENDED_BUDGET_EXHAUSTED"
    assert system.update_calls(user.connection) == []
    connection = connection_of(system, user)
    assert connection.active_update_id is None and budget_used(system, user) == budget.usable_per_day
    assert connection.schedule.next_due_at == budget.next_day_start(system.clock.now())
    assert connection.schedule.last_skip_reason is SkipReason.BUDGET_EXHAUSTED


def test_a_start_with_too_little_time_left_goes_back_to_its_queue_untouched(system: System) -> None:
    # Given an invocation with less time left than a start may take
    user = opted_in(system)
    due = due_of(system, user)
    # When the due message is handled
    with pytest.raises(StartPostponed):
        system.use_cases.start_scheduled_update()(due, seconds_left=system.settings.start_reserve_seconds - 1)
    # Then nothing was recorded, sent or spent, and the connection is still due (SQS delivers the message again)
    assert system.updates.all() == [] and system.update_calls(user.connection) == []
    assert budget_used(system, user) == 0
    assert [c for _, c, _ in system.schedules.due(now=system.clock.now())] == [user.connection]


def test_a_delivery_arriving_while_the_first_is_calling_finapi_leaves_the_update_to_it(system: System) -> None:
    # Given a due connection, and the first delivery of its slot held up on its way to finAPI (its user token must be
    # renewed, and finAPI's token endpoint fails once: the client pauses before it tries again)
    user = opted_in(system, download_seconds=10)
    due = due_of(system, user)
    update_id = slot_update(due)
    system.sandbox.world.expire_tokens()
    system.sandbox.world.add_fault(path="/oauth/token", status=500, times=1)
    meanwhile: list[ScheduledStart] = []
    first_polls: list[PollLoopState] = []

    def second_delivery_and_its_consequences(_: float) -> None:
        system.clock.on_advance.remove(second_delivery_and_its_consequences)
        # the second delivery comes while the first has claimed the call but not yet made it
        assert system.record(update_id).finapi_called_at is not None
        meanwhile.append(system.start_scheduled(due))
        loop = system.workflow.take_loop(update_id)  # whatever it started runs at once
        if loop is not None:
            first_polls.append(ExpressLoop(system).poll(loop))

    system.clock.on_advance.append(second_delivery_and_its_consequences)
    # When the first delivery goes on
    first = system.start_scheduled(due)
    # Then the second left the update to the first, which started it: finAPI downloads it once, and it succeeds
    assert (first, meanwhile) == (ScheduledStart.STARTED, [ScheduledStart.DUPLICATE])
    if first_polls and first_polls[0].next is PollNext.POLL:
        system.run_loop(first_polls[0])
    system.run(update_id)
    assert finapi_updates(system, user) == 1 and budget_used(system, user) == 1
    assert system.record(update_id).status is UpdateStatus.SUCCEEDED


def test_the_slot_of_a_connection_that_is_gone_is_left_alone(system: System) -> None:
    outcome = system.start_scheduled(DueConnection(owner_id="nobody", connection_id=1, slot=system.clock.now()))
    assert outcome is ScheduledStart.GONE and system.updates.all() == [] and system.workflow.starts == []


def test_a_start_refused_for_rate_comes_back_sooner_than_the_visibility_timeout_and_is_started_then(
    system: System,
) -> None:
    # Given a due connection whose workflow start Step Functions refuses for rate past botocore's retries
    user = opted_in(system)
    due = due_of(system, user)
    system.workflow.start_error = AwsThrottled("AWS refused sfn StartExecution for rate (ThrottlingException) 3 times")
    # When its message is delivered for the second time (its jitter drawn at the middle)
    with pytest.raises(AwsThrottled):
        system.deliver_due(due, receives=2, draw=0.5)
    # Then the delivery fails (Lambda leaves the message in the queue), but the message is told to come back in 90 s
    # (in 60-120 s, the second receive's half of its ceiling), not after the queue's 720 s
    assert system.due_queue.brought_back == [("r2", 90)]
    # And when it comes back and Step Functions takes the start, the update runs on one finAPI call and one unit
    system.workflow.start_error = None
    assert system.deliver_due(due, receives=3) is ScheduledStart.DUPLICATE
    assert finapi_updates(system, user) == 1 and budget_used(system, user) == 1
    assert system.due_queue.brought_back == [("r2", 90)]
    system.run(slot_update(due))
    assert system.record(slot_update(due)).status is UpdateStatus.SUCCEEDED


def test_a_start_that_failed_for_another_reason_keeps_the_queues_visibility_timeout(system: System) -> None:
    # Given a due connection whose workflow start fails with an error that is not a rate refusal
    user = opted_in(system)
    due = due_of(system, user)
    system.workflow.start_error = RuntimeError("Step Functions is down")
    # When its message is delivered
    with pytest.raises(RuntimeError):
        system.deliver_due(due, receives=1)
    # Then it comes back when the queue brings it back: nothing was brought forward
    assert system.due_queue.brought_back == []


def test_a_refused_start_whose_return_cannot_be_brought_forward_still_fails_its_delivery(system: System) -> None:
    # Given a due connection whose start is refused for rate, and SQS refusing ChangeMessageVisibility too
    user = opted_in(system)
    due = due_of(system, user)
    system.workflow.start_error = AwsThrottled("AWS refused sfn StartExecution for rate (ThrottlingException) 3 times")
    system.due_queue.refuse_visibility = AwsThrottled("AWS refused sqs ChangeMessageVisibility for rate")
    # When its message is delivered
    # Then the start's refusal is what fails the delivery (the message comes back after the visibility timeout)
    with pytest.raises(AwsThrottled, match="StartExecution"):
        system.deliver_due(due, receives=1)
    assert system.due_queue.brought_back == []
    assert finapi_updates(system, user) == 1 and budget_used(system, user) == 1


def test_a_start_refused_before_finapi_that_comes_back_within_the_start_reserve_is_left_to_the_reconciler(
    system: System,
) -> None:
    # Given a due connection whose budget take DynamoDB refuses for rate (after the claim and the lock: the record is
    # pending, finAPI not called), so that its message is told to come back after 30 s
    user = opted_in(system)
    due = due_of(system, user)
    system.schedules.refuse_budget = AwsThrottled("AWS refused dynamodb UpdateItem for rate 3 times")
    with pytest.raises(AwsThrottled):
        system.deliver_due(due, receives=1, draw=0.0)
    system.schedules.refuse_budget = None
    assert system.due_queue.brought_back == [("r1", 30)]
    # When it comes back then, within START_RESERVE_SECONDS of the claim
    system.clock.advance(30)
    again = system.deliver_due(due, receives=2)
    # Then the delivery takes the update for one another delivery is still starting and lets it go (D39's noted
    # interaction): no workflow, no finAPI call, no budget spent
    assert again is ScheduledStart.DUPLICATE
    assert system.workflow.starts == [] and finapi_updates(system, user) == 0 and budget_used(system, user) == 0
    # And the reconciler's run after the grace starts its workflow, which ends the update without calling finAPI and
    # frees the connection
    system.clock.advance(system.settings.orphan_grace_seconds + 1)
    assert system.use_cases.reconcile_stale_updates()().recovered == 1
    system.run(slot_update(due))
    ended = system.record(slot_update(due))
    assert ended.status is UpdateStatus.FAILED and ended.error is not None
    assert ended.error.code == "UPSTREAM_UNAVAILABLE" and finapi_updates(system, user) == 0
    assert connection_of(system, user).active_update_id is None
