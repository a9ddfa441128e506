"""PollUpdateStatus and the poll loop around it (decision D26): one poll at finAPI per Poll state of an Express loop;
the first poll of a loop claims the update's polls; the poll that sees the end finishes the update and ends the
workflow's Poll task, or hands it back when the update must wait elsewhere (for its user, for a gap too long for the
loop). Access integration; the Web Form 2.0 side is in test_webform.py."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from itertools import pairwise

import pytest
from pydantic import SecretStr

from bankupdate.contract import (
    POLL_HISTORY_LIMIT,
    CatchFailure,
    HandBack,
    PollNext,
    WaitingTask,
)
from bankupdate.domain import lifecycle
from bankupdate.domain.answers import Credential
from bankupdate.domain.errors import DownloadFailed
from bankupdate.domain.events import UpdateExpired, UpdateFailed, UpdateSucceeded
from bankupdate.domain.model import UpdateOptions, UpdateStatus
from bankupdate.services.recovery import workflow_input
from finapi_sandbox import SandboxServer
from tests.usecases.polling import (
    ExpressLoop,
    connection_reads,
    downloading,
    every_poll,
    new_loop,
    output_of,
    states_of,
    system_with,
)
from tests.usecases.system import DEMO, NO_SCA, TAN, System

SMS_TAN = "901"


@pytest.fixture
def short_loops(finapi: SandboxServer) -> Iterator[System]:
    """Loops that hand on after about 15 s (a 20 s Express limit, 5 s kept for one more poll)."""
    yield system_with(finapi, POLL_LOOP_MAX_SECONDS="20", POLL_RESERVE_SECONDS="5")
    finapi.world.clear_faults()


@pytest.fixture
def early_hand_over(finapi: SandboxServer) -> Iterator[System]:
    """Gaps longer than 5 s are waited by the workflow (from about 42 s into a download)."""
    yield system_with(finapi, POLL_HAND_OVER_GAP_SECONDS="5")
    finapi.world.clear_faults()


# --------------------------------------------------------------------------------------------- a loop's life


def test_a_poll_loop_follows_a_download_from_its_start_to_its_success(system: System) -> None:
    # Given a download of 20 s, started by the user
    user, update_id = downloading(system, 20)
    reads = connection_reads(system, user.connection)
    # When the update's workflow runs its Poll task
    polls = system.run(update_id)
    # Then one loop polled until it saw the download end, and that poll finished the update and ended the Poll task
    done = system.record(update_id)
    assert done.status is UpdateStatus.SUCCEEDED and done.result is not None and len(done.result.accounts) == 2
    assert states_of(system, update_id) == ["Poll"]
    assert output_of(system, update_id).status is UpdateStatus.SUCCEEDED
    assert [p.next for p in system.polls] == [PollNext.POLL] * (polls - 1) + [PollNext.DONE]
    assert len({p.execution for p in system.polls}) == 1
    # And each poll was one read of the connection at finAPI, every one counted on the record
    assert connection_reads(system, user.connection) - reads == polls == done.poll_count
    # And the end was noticed within the lag the schedule allows (polls 12 % of the elapsed time apart)
    assert done.triggered_at is not None and done.result.finished_at is not None
    lag = (done.result.finished_at - done.triggered_at).total_seconds() - 20
    assert lag <= max(system.settings.poll_lag_ratio * 20 + 0.5, 1)
    # And the lock is free, the app told once
    connection = system.connections.get(user.owner_id, user.connection)
    assert connection is not None and connection.active_update_id is None
    assert [type(e) for e in system.events.events] == [UpdateSucceeded]


def test_the_first_poll_of_a_loop_claims_the_updates_polls_and_parks_the_poll_tasks_token(system: System) -> None:
    # Given a download under way and the loop its Poll task started
    _, update_id = downloading(system, 60)
    loop = new_loop(system, update_id)
    assert (loop.loop_id, loop.target) == (None, None)
    # When the loop's first poll runs
    state = ExpressLoop(system, "loop-a").poll(loop)
    # Then the loop owns the update's polls, the Poll task's token is parked on the update, and the loop carries
    # what the next polls need (they read nothing else)
    stored = system.updates.get(update_id)
    assert stored is not None
    assert (stored.task_token, stored.task_kind) == (system.workflow.token_of(update_id), WaitingTask.POLL)
    assert state.loop_id is not None and state.execution == "loop-a" and state.target is not None
    assert (state.next, state.polls, state.target.connection_id) == (PollNext.POLL, 1, stored.record.connection_id)


def test_a_duplicate_start_of_a_loop_ends_at_its_first_poll_without_asking_finapi(system: System) -> None:
    # Given a loop that started and polled once
    user, update_id = downloading(system, 10)
    loop = new_loop(system, update_id)
    loop_a = ExpressLoop(system, "loop-a")
    first = loop_a.poll(loop)
    reads = connection_reads(system, user.connection)
    # When Express runs a second execution with the same input (StartExecution is at least once)
    duplicate = ExpressLoop(system, "loop-b").poll(loop)
    # Then that one ends at once: no read at finAPI, nothing taken from the first
    assert duplicate.next is PollNext.DONE and connection_reads(system, user.connection) == reads
    stored = system.updates.get(update_id)
    assert stored is not None and stored.task_token == loop.parent_token
    # And the first loop polls on to the end
    assert loop_a.poll_on(first).next is PollNext.DONE
    assert system.record(update_id).status is UpdateStatus.SUCCEEDED
    assert [t for t, _ in system.workflow.releases] == [loop.parent_token]


def test_a_loop_near_expresss_time_limit_hands_on_to_a_fresh_loop_that_takes_the_polls_over(
    short_loops: System,
) -> None:
    system = short_loops
    # Given a download of 60 s, polled by loops that may run 20 s
    user, update_id = downloading(system, 60)
    reads = connection_reads(system, user.connection)
    # When the workflow runs its Poll task
    polls = system.run(update_id)
    # Then the loops handed on to fresh loops (CONTINUE) before they could outlast their limit, each new loop
    # claimed the polls from its predecessor, and the last one finished the update
    assert system.record(update_id).status is UpdateStatus.SUCCEEDED
    executions = [p.execution for p in system.polls]
    handed_on = [p for p in system.polls if p.next is PollNext.CONTINUE]
    assert len(handed_on) >= 2 and len(set(executions)) == len(handed_on) + 1
    assert len({p.loop_id for p in system.polls}) == len(set(executions))
    for loop_execution in set(executions):
        moments = [p.history[-1].at for p in system.polls if p.execution == loop_execution]
        assert (moments[-1] - moments[0]).total_seconds() + 5 <= 20
    # And it stayed one Poll task, polled once per state, the whole story in its output
    assert states_of(system, update_id) == ["Poll"]
    assert len(output_of(system, update_id).polls) == polls == connection_reads(system, user.connection) - reads


def test_a_continued_loop_started_twice_polls_once(short_loops: System) -> None:
    system = short_loops
    # Given a loop that handed on to a fresh one
    user, update_id = downloading(system, 60)
    loop_a = ExpressLoop(system, "loop-a")
    state = loop_a.poll_on(loop_a.poll(new_loop(system, update_id)))
    assert state.next is PollNext.CONTINUE
    # When Step Functions starts the fresh loop twice (a retried StartExecution)
    successor = ExpressLoop(system, "loop-b").poll(state)
    reads = connection_reads(system, user.connection)
    twin = ExpressLoop(system, "loop-c").poll(state)
    # Then one takes the polls over; the other ends at its first poll without asking finAPI
    assert successor.next in (PollNext.POLL, PollNext.CONTINUE) and successor.loop_id != state.loop_id
    assert twin.next is PollNext.DONE and connection_reads(system, user.connection) == reads


def test_a_loop_of_an_earlier_poll_task_is_refused_once_a_later_one_has_the_polls(system: System) -> None:
    # Given an update whose first Poll task handed it to its user, who answered: a second Poll task runs
    user = system.new_user()
    started = system.trigger(user, credentials=DEMO)
    first_loop = new_loop(system, started.update_id)
    system.run_loop(first_loop)
    system.run(started.update_id)
    system.answer(user, started.update_id, two_step_procedure_id=SMS_TAN)
    system.answer(user, started.update_id, challenge_response=SecretStr(TAN))
    second = ExpressLoop(system).poll(new_loop(system, started.update_id))
    assert second.next is PollNext.POLL
    reads = connection_reads(system, user.connection)
    # When a late duplicate of the first Poll task's loop starts
    late = ExpressLoop(system).poll(first_loop)
    # Then it ends without asking finAPI, and the second loop's claim stands
    assert late.next is PollNext.DONE and connection_reads(system, user.connection) == reads
    stored = system.updates.get(started.update_id)
    assert stored is not None and stored.task_token == system.workflow.token_of(started.update_id)
    assert states_of(system, started.update_id) == ["Poll", "AwaitUser", "Poll"]


# --------------------------------------------------------------------------------------------- where a loop starts


def test_an_update_finished_before_its_loop_started_is_released_with_its_status(system: System) -> None:
    # Given a user-present update that failed, its finish dead before it released the lock
    user = system.new_user()
    started = system.trigger(user, credentials=DEMO)
    system.updates.save(lifecycle.finish(system.record(started.update_id), system.clock.now()), expected_version=1)
    reads = connection_reads(system, user.connection)
    # When its Poll task's loop starts
    system.run(started.update_id)
    # Then the Poll task ends with the update's status, what the finish left undone is done, finAPI is not asked
    assert output_of(system, started.update_id).status is UpdateStatus.FAILED
    assert states_of(system, started.update_id) == ["Poll"]
    connection = system.connections.get(user.owner_id, user.connection)
    assert connection is not None and connection.active_update_id is None
    assert [type(e) for e in system.events.events][-1] is UpdateFailed
    assert connection_reads(system, user.connection) == reads


def test_an_update_whose_outcome_is_recorded_but_not_finished_is_finished_by_its_loop(system: System) -> None:
    # Given an update whose error was recorded by a finisher that died before finishing
    user = system.new_user()
    started = system.trigger(user, credentials=DEMO)
    error = DownloadFailed("finAPI could not download").to_update_error()
    failing = lifecycle.fail(system.record(started.update_id), error, system.clock.now()).record
    system.updates.save(failing, expected_version=1)
    # When its Poll task's loop starts
    system.run(started.update_id)
    # Then the loop finishes it with that error and ends the task
    ended = system.record(started.update_id)
    assert ended.status is UpdateStatus.FAILED and ended.error is not None and ended.error.code == "DOWNLOAD_FAILED"
    assert output_of(system, started.update_id).status is UpdateStatus.FAILED
    connection = system.connections.get(user.owner_id, user.connection)
    assert connection is not None and connection.active_update_id is None


def _sent_but_unrecorded(system: System, credentials: tuple[Credential, ...]) -> tuple[int, str]:
    """A user-present update recorded as sent to finAPI, whose trigger died before it recorded finAPI's answer."""
    user = system.new_user(download_seconds=10)
    started = system.trigger(user, credentials=credentials)
    pending = system.record(started.update_id).model_copy(
        update={"status": UpdateStatus.PENDING, "challenge": None, "auth_round": 0}
    )
    system.updates.save(pending, expected_version=1)
    return user.connection, started.update_id


def test_a_pending_update_sent_to_finapi_is_polled_as_unconfirmed_and_never_sent_again(system: System) -> None:
    # Given an update finAPI started downloading, whose trigger died before recording it
    connection_id, update_id = _sent_but_unrecorded(system, NO_SCA)
    # When its Poll task's loop starts
    system.run(update_id)
    # Then finAPI's (non-idempotent) update was not called again: the polls took the download as unconfirmed and
    # found finAPI's fresh result
    assert len(system.update_calls(connection_id)) == 1
    done = system.record(update_id)
    assert done.status is UpdateStatus.SUCCEEDED and done.start_confirmed is False


def test_an_unconfirmed_start_finapi_never_ran_fails_once_the_polls_find_no_fresh_result(system: System) -> None:
    # Given an update recorded as sent, but finAPI started no download (it asked for SCA; nobody recorded that)
    connection_id, update_id = _sent_but_unrecorded(system, DEMO)
    # When its loop polls
    system.run(update_id)
    # Then no fresh result means finAPI did not start: the update fails retryably, finAPI was called once
    failed = system.record(update_id)
    assert failed.status is UpdateStatus.FAILED and failed.error is not None
    assert (failed.error.code, failed.error.retryable) == ("UPSTREAM_UNAVAILABLE", True)
    assert len(system.update_calls(connection_id)) == 1


def test_a_pending_update_never_sent_to_finapi_fails_as_never_sent(system: System) -> None:
    # Given a scheduled update recorded (its lock taken) by a start that died before it claimed the call to finAPI
    user = system.new_user()
    system.use_cases.sync_connections()(owner_id=user.owner_id)
    update_id = "5" * 32
    now = system.clock.now()
    system.connections.acquire_lock(
        user.owner_id, user.connection, update_id=update_id, now=now, lease_until=now + timedelta(hours=1)
    )
    record = lifecycle.new_unattended(
        update_id=update_id,
        owner_id=user.owner_id,
        connection_id=user.connection,
        integration=system.settings.integration,
        known_account_ids=(),
        execution_arn=system.workflow.execution_arn(update_id),
        now=now,
    )
    assert system.updates.create(record)
    system.workflow.start(workflow_input(update_id, system.settings))
    # When its workflow's loop starts
    system.run(update_id)
    # Then the update fails as never sent (stalled, retryable), finAPI was never asked, the lock is free
    failed = system.record(update_id)
    assert failed.status is UpdateStatus.FAILED and failed.error is not None
    assert (failed.error.code, failed.error.retryable) == ("UPDATE_STALLED", True)
    assert system.update_calls(user.connection) == [] and connection_reads(system, user.connection) == 0
    assert output_of(system, update_id).status is UpdateStatus.FAILED
    connection = system.connections.get(user.owner_id, user.connection)
    assert connection is not None and connection.active_update_id is None


def test_an_access_update_waiting_for_its_user_is_handed_back_at_once_without_asking_finapi(system: System) -> None:
    # Given an update whose bank asks the user (answers come through our API, not from finAPI's side)
    user = system.new_user()
    started = system.trigger(user, credentials=DEMO)
    reads = connection_reads(system, user.connection)
    # When its Poll task's loop starts
    polls = system.run(started.update_id)
    # Then its first poll hands the task back (UserNeeded) without asking finAPI, and the workflow waits for the user
    # on a token parked on the update
    assert polls == 1 and connection_reads(system, user.connection) == reads
    execution = system.workflow.executions[started.update_id]
    assert [(reason, detail.wait_seconds) for reason, detail in execution.hand_backs] == [(HandBack.USER_NEEDED, 0)]
    assert states_of(system, started.update_id) == ["Poll", "AwaitUser"]
    stored = system.updates.get(started.update_id)
    assert stored is not None and (stored.task_token, stored.task_kind) == (
        system.workflow.token_of(started.update_id),
        WaitingTask.USER,
    )
    assert stored.record.status is UpdateStatus.AUTHENTICATION_REQUIRED


def test_an_update_whose_answer_window_closed_expires_when_its_loop_starts(system: System) -> None:
    # Given an update waiting for its user, whose window closed before its loop ran
    user = system.new_user()
    started = system.trigger(user, credentials=DEMO)
    system.clock.advance(system.settings.auth_window_seconds)
    # When the loop starts
    system.run(started.update_id)
    # Then the update expired, the Poll task ended with that, the lock is free and the app told
    expired = system.record(started.update_id)
    assert expired.status is UpdateStatus.EXPIRED and expired.error is not None
    assert expired.error.code == "AUTHENTICATION_EXPIRED"
    assert output_of(system, started.update_id).status is UpdateStatus.EXPIRED
    assert states_of(system, started.update_id) == ["Poll"]
    connection = system.connections.get(user.owner_id, user.connection)
    assert connection is not None and connection.active_update_id is None
    assert [type(e) for e in system.events.events][-1] is UpdateExpired


def test_a_loop_for_an_update_that_does_not_exist_ends_and_its_task_ends_at_its_heartbeat(system: System) -> None:
    # Given a workflow started for an update id nobody recorded
    system.workflow.start(workflow_input("9" * 32, system.settings))
    calls = len(system.sandbox.world.calls)
    # When its loop starts
    system.run("9" * 32)
    # Then the loop ends at once without asking finAPI; the Poll task hears nothing more, and its heartbeat's Catch
    # ends the execution saying the update is gone
    assert [p.next for p in system.polls] == [PollNext.DONE] and len(system.sandbox.world.calls) == calls
    assert system.catch("9" * 32, "States.HeartbeatTimeout").status is None


# --------------------------------------------------------------------------------------------- hand-backs


def test_a_gap_beyond_the_hand_over_is_waited_by_the_workflow_and_polled_by_a_fresh_loop(
    early_hand_over: System,
) -> None:
    system = early_hand_over
    # Given a download of three minutes, with gaps beyond 5 s waited by the workflow
    user, update_id = downloading(system, 180)
    reads = connection_reads(system, user.connection)
    # When the workflow runs
    system.run(update_id)
    # Then each gap beyond 5 s was handed back (WaitLonger, with that gap), waited in a Wait state, then a fresh Poll
    # task polled
    assert system.record(update_id).status is UpdateStatus.SUCCEEDED
    execution = system.workflow.executions[update_id]
    assert execution.hand_backs and {reason for reason, _ in execution.hand_backs} == {HandBack.WAIT_LONGER}
    for _, detail in execution.hand_backs:
        assert detail.wait_seconds >= 5 and detail.polls[-1].wait_seconds == detail.wait_seconds
    assert states_of(system, update_id) == ["Poll"] + ["ReadWait", "WaitLonger", "Poll"] * len(execution.hand_backs)
    # And every gap the loops waited themselves was within the hand-over
    in_loop = [p.gap_seconds for p in system.polls if p.next is PollNext.POLL]
    assert in_loop and max(in_loop) <= 5
    assert connection_reads(system, user.connection) - reads == len(every_poll(system, update_id))


# --------------------------------------------------------------------------------------------- signs of life


def test_a_long_download_keeps_the_poll_task_alive_with_a_sign_only_when_the_next_could_come_too_late(
    system: System,
) -> None:
    # Given a download of eight minutes: its gaps stay in the loop (below the break-even) for ten minutes
    _, update_id = downloading(system, 480)
    entered = system.workflow.task_of(update_id).entered_at
    # When the workflow runs
    system.run(update_id)
    # Then the Poll task never handed back, and heard from its loops (signs of life, then the release) always before
    # the sign-of-life mark had passed
    assert system.record(update_id).status is UpdateStatus.SUCCEEDED
    assert states_of(system, update_id) == ["Poll"]
    kept_alive = sorted({p.alive_at for p in system.polls if p.alive_at is not None and p.alive_at > entered})
    signs = [entered, *kept_alive, system.polls[-1].history[-1].at]
    mark = system.settings.poll_sign_of_life_seconds
    assert kept_alive and system.workflow.executions[update_id].keep_alives == len(kept_alive)
    assert max((later - earlier).total_seconds() for earlier, later in pairwise(signs)) <= mark
    # And no sign came before it was needed: each came at the poll whose silence plus next gap reached the mark
    gap_after = {p.at: p.wait_seconds or 0 for p in system.polls[-1].history}
    for earlier, later in pairwise([entered, *kept_alive]):
        assert (later - earlier).total_seconds() + gap_after[later] >= mark, (earlier, later)


def test_the_polls_stop_once_the_poll_task_is_over(system: System) -> None:
    # Given a long download whose Poll task is over (it timed out; its Catch has not run Finalize yet)
    user, update_id = downloading(system, 1500)
    reads = connection_reads(system, user.connection)
    loop = ExpressLoop(system)
    state = loop.poll(new_loop(system, update_id))
    system.workflow.catch(update_id, "States.HeartbeatTimeout")
    # When its loop polls on (handing on to fresh loops as it goes)
    state = loop.poll_on(state)
    while state.next is PollNext.CONTINUE:
        successor = ExpressLoop(system)
        state = successor.poll_on(successor.poll(state))
    # Then the polls ended at the first sign of life the task refused, leaving the update to Finalize
    assert state.next is PollNext.DONE and system.workflow.refused == [state.parent_token]
    assert system.record(update_id).status is UpdateStatus.IN_PROGRESS
    assert connection_reads(system, user.connection) - reads == state.polls


# --------------------------------------------------------------------------------------------- the history


def test_the_execution_history_lists_every_poll_with_what_it_saw_and_the_gap_chosen_after_it(
    early_hand_over: System,
) -> None:
    system = early_hand_over
    # Given a download of two minutes, some of whose gaps the workflow waits
    user, update_id = downloading(system, 120)
    reads = connection_reads(system, user.connection)
    # When the workflow runs
    system.run(update_id)
    # Then the hand-backs' causes and the output list every poll once, in order: the running ones with the gap chosen
    # after each, the last one seeing the end
    polls = every_poll(system, update_id)
    assert len(polls) == connection_reads(system, user.connection) - reads
    assert {p.saw for p in polls[:-1]} == {"IN_PROGRESS"} and all(p.wait_seconds for p in polls[:-1])
    assert (polls[-1].saw, polls[-1].wait_seconds) == ("READY", None)
    # And each poll came after the gap the one before it chose (a gap the workflow waited, plus the new loop's first
    # second)
    handed_back = {detail.polls[-1].at for _, detail in system.workflow.executions[update_id].hand_backs}
    for earlier, later in pairwise(polls):
        assert earlier.wait_seconds is not None
        extra = 1 if earlier.at in handed_back else 0
        assert (later.at - earlier.at).total_seconds() == earlier.wait_seconds + extra


def test_a_long_history_keeps_the_first_poll_and_the_latest(finapi: SandboxServer) -> None:
    # Given polls a second apart (no lag ratio) for a download of 80 s
    system = system_with(finapi, POLL_LAG_RATIO="0")
    _, update_id = downloading(system, 80)
    # When the workflow runs
    polls = system.run(update_id)
    # Then the output keeps the first poll and the latest ones, as many as the history may hold
    listed = output_of(system, update_id).polls
    assert polls > POLL_HISTORY_LIMIT and len(listed) == POLL_HISTORY_LIMIT
    assert listed[0] == system.polls[0].history[0] and listed[-1] == system.polls[-1].history[-1]
    assert system.record(update_id).poll_count == polls


# --------------------------------------------------------------------------------------------- how downloads end


def test_a_download_past_its_deadline_times_out_at_its_deadline(system: System) -> None:
    # Given a download that would take twice the update's deadline
    user, update_id = downloading(system, system.settings.update_deadline_seconds * 2)
    # When the workflow polls it
    system.run(update_id)
    # Then the update timed out at its deadline, not before and not much later, and the workflow was released
    failed = system.record(update_id)
    assert failed.status is UpdateStatus.FAILED and failed.error is not None and failed.error.code == "TIMED_OUT"
    assert failed.deadline_at is not None
    assert failed.deadline_at <= failed.updated_at <= failed.deadline_at + timedelta(seconds=1)
    assert output_of(system, update_id).status is UpdateStatus.FAILED and not system.workflow.is_open(update_id)
    connection = system.connections.get(user.owner_id, user.connection)
    assert connection is not None and connection.active_update_id is None


@pytest.mark.parametrize(
    ("fault", "seen"),
    [
        ({"status": 500, "times": 3}, "unreachable (UPSTREAM_UNAVAILABLE)"),
        ({"lock": True, "times": 1}, "unreachable (UPDATE_ALREADY_RUNNING)"),
    ],
)
def test_a_poll_finapi_cannot_answer_is_polled_again_later(system: System, fault: dict[str, object], seen: str) -> None:
    # Given finAPI failing reads of the connection for a moment (500s through the client's retries, or locked)
    user, update_id = downloading(system, 4)
    system.sandbox.world.add_fault(method="GET", path=f"/bankConnections/{user.connection}", **fault)
    # When the workflow polls
    system.run(update_id)
    # Then that poll counted as "still running", and the next found the download done
    assert system.record(update_id).status is UpdateStatus.SUCCEEDED
    assert every_poll(system, update_id)[0].saw == seen


def test_finapi_unreachable_until_the_deadline_times_the_update_out(finapi: SandboxServer) -> None:
    # Given a deadline of a minute, and finAPI unreachable from the first poll on
    system = system_with(finapi, UPDATE_DEADLINE_SECONDS="60")
    user, update_id = downloading(system, 30)
    finapi.world.add_fault(method="GET", path=f"/bankConnections/{user.connection}", status=500)
    try:
        # When the workflow polls
        system.run(update_id)
    finally:
        finapi.world.clear_faults()
    # Then the update timed out once its deadline passed, saying finAPI could not be asked
    failed = system.record(update_id)
    assert failed.error is not None and failed.error.code == "TIMED_OUT"
    assert "could not be asked" in failed.error.message
    assert failed.deadline_at is not None and failed.updated_at >= failed.deadline_at


def test_categorization_is_awaited_when_asked(system: System) -> None:
    user = system.new_user(download_seconds=4)
    started = system.trigger(user, credentials=NO_SCA, options=UpdateOptions(wait_for_categorization=True))
    system.run(started.update_id)
    done = system.record(started.update_id)
    assert done.result is not None and done.result.categorization_status == "READY"


def test_a_download_that_refreshed_no_account_is_a_failed_update(system: System) -> None:
    _, update_id = downloading(system, 4, failing_account_indexes=[0, 1])
    system.run(update_id)
    failed = system.record(update_id)
    assert failed.status is UpdateStatus.FAILED and failed.error is not None and failed.error.code == "DOWNLOAD_FAILED"
    assert failed.result is not None and {a.status for a in failed.result.accounts} == {"DOWNLOAD_FAILED"}
    assert output_of(system, update_id).status is UpdateStatus.FAILED


def test_a_download_the_bank_rejected_fails_with_the_banks_message(system: System) -> None:
    user = system.new_user()
    system.sandbox.world.connections[user.connection].fail_next_update_with = "BANK_SERVER_REJECTION"
    started = system.trigger(user, credentials=NO_SCA)
    system.run(started.update_id)
    failed = system.record(started.update_id)
    assert failed.error is not None and failed.error.code == "BANK_REJECTED" and failed.error.user_action_required
    assert every_poll(system, started.update_id)[-1].saw == "BANK_REJECTED"


def test_a_late_poll_of_a_finished_update_changes_nothing(system: System) -> None:
    # Given a finished update, and a duplicate of its loop still on its way
    _, update_id = downloading(system, 4)
    loop = new_loop(system, update_id)
    system.run_loop(loop)
    done = system.record(update_id)
    assert done.status is UpdateStatus.SUCCEEDED
    events, releases = len(system.events.events), len(system.workflow.releases)
    # When the late loop polls
    late = ExpressLoop(system).poll(loop)
    # Then the update, its events and its workflow are as they were
    assert late.next is PollNext.DONE
    assert system.record(update_id) == done
    assert (len(system.events.events), len(system.workflow.releases)) == (events, releases)


# --------------------------------------------------------------------------------------------- a poll that fails


def test_a_poll_that_fails_for_good_ends_the_update_and_its_poll_task_through_finalize(system: System) -> None:
    # Given a loop that polled a download twice, then whose poll Lambda failed past its retries
    user, update_id = downloading(system, 600)
    loop = ExpressLoop(system)
    state = loop.poll(loop.poll(new_loop(system, update_id)))
    failure = CatchFailure.model_validate({"Error": "Sandbox.Timedout", "Cause": "Task timed out after 30 s"})
    # When the loop's Catch (GiveUp) calls Finalize with the loop's Poll task token
    output = system.use_cases.finalize_update()(update_id, failure, state.parent_token)
    # Then the update ended as stalled, the lock is free, and the Poll task ended with it (the execution is over)
    failed = system.record(update_id)
    assert failed.status is UpdateStatus.FAILED and failed.error is not None
    assert (failed.error.code, failed.error.retryable) == ("UPDATE_STALLED", True)
    assert "Sandbox.Timedout" in failed.error.message
    assert output.status is UpdateStatus.FAILED
    assert [(t, o.status) for t, o in system.workflow.releases] == [(state.parent_token, UpdateStatus.FAILED)]
    assert not system.workflow.is_open(update_id) and states_of(system, update_id) == ["Poll"]
    connection = system.connections.get(user.owner_id, user.connection)
    assert connection is not None and connection.active_update_id is None


def test_a_loop_whose_first_poll_failed_for_good_still_ends_its_poll_task(system: System) -> None:
    # Given a loop whose very first poll failed (its claim never written: the update holds no Poll token)
    _, update_id = downloading(system, 600)
    loop = new_loop(system, update_id)
    stored = system.updates.get(update_id)
    assert stored is not None and stored.task_token is None
    failure = CatchFailure.model_validate({"Error": "Lambda.Unknown"})
    # When GiveUp calls Finalize with the loop's token
    system.use_cases.finalize_update()(update_id, failure, loop.parent_token)
    # Then the update ended and the Poll task named by the loop was ended too
    assert system.record(update_id).status is UpdateStatus.FAILED
    assert [t for t, _ in system.workflow.releases] == [loop.parent_token]
    assert not system.workflow.is_open(update_id)
