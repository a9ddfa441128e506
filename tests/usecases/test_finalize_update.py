"""FinalizeUpdate: the update workflow's Catch (a task that failed, timed out or fell silent, read against where the
update stood) and the poll loop's GiveUp (a poll that failed for good; it names the Poll task to end)."""

from __future__ import annotations

import json

import pytest
from pydantic import SecretStr

from bankupdate.contract import CatchFailure, WaitingTask
from bankupdate.domain import lifecycle
from bankupdate.domain.events import UpdateExpired, UpdateFailed
from bankupdate.domain.model import UpdateStatus
from bankupdate.services.recovery import workflow_input
from tests.usecases.polling import ExpressLoop, downloading, new_loop, output_of, states_of
from tests.usecases.system import DEMO, TAN, System


def waiting_for_user(system: System) -> str:
    """An update whose bank asks the user, the workflow waiting for the answer (AwaitUser)."""
    user = system.new_user()
    started = system.trigger(user, credentials=DEMO)
    system.run(started.update_id)
    assert system.workflow.waiting(started.update_id) is WaitingTask.USER
    return started.update_id


def polled_a_while(system: System) -> str:
    """An update whose download runs for ten minutes, its poll loop a few polls in (the workflow in its Poll task)."""
    _, update_id = downloading(system, 600)
    loop = ExpressLoop(system)
    state = new_loop(system, update_id)
    for _ in range(3):
        state = loop.poll(state)
    assert system.record(update_id).status is UpdateStatus.IN_PROGRESS
    assert system.workflow.waiting(update_id) is WaitingTask.POLL
    return update_id


@pytest.mark.parametrize(
    ("stood", "error", "status", "code"),
    [
        ("waiting", "States.HeartbeatTimeout", UpdateStatus.EXPIRED, "AUTHENTICATION_EXPIRED"),
        ("waiting", "Lambda.Unknown", UpdateStatus.FAILED, "UPDATE_STALLED"),
        ("polling", "States.Timeout", UpdateStatus.FAILED, "TIMED_OUT"),
        ("polling", "States.HeartbeatTimeout", UpdateStatus.FAILED, "UPDATE_STALLED"),
        ("polling", "StepFunctions.ExecutionLimitExceededException", UpdateStatus.FAILED, "UPDATE_STALLED"),
    ],
)
def test_a_failed_task_ends_the_update_as_where_it_stood_says(
    system: System, stood: str, error: str, status: UpdateStatus, code: str
) -> None:
    # Given an update waiting for its user (AwaitUser), or downloading (its Poll task waiting on the poll loop)
    update_id = waiting_for_user(system) if stood == "waiting" else polled_a_while(system)
    # When that task fails this way and its Catch calls Finalize (no task token: the task is over)
    output = system.catch(update_id, error)
    # Then the update ends with the error that failure means there, the lock is free and the app is told
    ended = system.record(update_id)
    assert (output.update_id, output.status) == (update_id, status)
    assert ended.status is status and ended.error is not None and ended.error.code == code
    connection = system.connections.get(ended.owner_id, ended.connection_id)
    assert connection is not None and connection.active_update_id is None
    assert [type(e) for e in system.events.events][-1] is (
        UpdateExpired if status is UpdateStatus.EXPIRED else UpdateFailed
    )
    # And the execution went through Finalize to its end
    assert states_of(system, update_id)[-1] == "Finalize" and output_of(system, update_id).status is status


def test_a_wait_for_the_user_that_times_out_polls_instead_of_ending_the_update(system: System) -> None:
    # Given an update waiting for its user, who never answers
    update_id = waiting_for_user(system)
    # When the wait's timeout passes (its Catch goes to Poll, not to Finalize)
    system.wait_runs_out(update_id)
    # Then the poll loop finds the answer window closed and ends the update as expired
    expired = system.record(update_id)
    assert expired.status is UpdateStatus.EXPIRED and expired.error is not None
    assert expired.error.code == "AUTHENTICATION_EXPIRED"
    assert states_of(system, update_id) == ["Poll", "AwaitUser", "Poll"]
    assert output_of(system, update_id).status is UpdateStatus.EXPIRED


def test_one_of_our_own_errors_comes_through_by_name(system: System) -> None:
    # Given a task that failed with one of our errors (a Lambda error named after its class)
    update_id = waiting_for_user(system)
    cause = json.dumps({"errorMessage": "finAPI is down", "errorType": "UpstreamUnavailable"})
    # When Finalize reads it
    system.catch(update_id, "UpstreamUnavailable", cause)
    # Then the update carries that error and its message
    ended = system.record(update_id)
    assert ended.error is not None and (ended.error.code, ended.error.message) == (
        "UPSTREAM_UNAVAILABLE",
        "finAPI is down",
    )


def test_finalize_after_the_update_finished_keeps_its_outcome(system: System) -> None:
    # Given an update that succeeded, and a Finalize that runs for it anyway (its task failed after the finish)
    user = system.new_user()
    started = system.trigger(user, credentials=DEMO)
    system.run(started.update_id)
    system.answer(user, started.update_id, two_step_procedure_id="901")
    system.answer(user, started.update_id, challenge_response=SecretStr(TAN))
    system.run(started.update_id)
    assert system.record(started.update_id).status is UpdateStatus.SUCCEEDED
    events = len(system.events.events)
    # When Finalize runs for it
    output = system.use_cases.finalize_update()(started.update_id, CatchFailure.model_validate({"Error": "X"}))
    # Then it keeps its outcome, and nothing is told twice
    assert output.status is UpdateStatus.SUCCEEDED
    assert system.record(started.update_id).status is UpdateStatus.SUCCEEDED
    assert len(system.events.events) == events


def test_finalize_of_an_update_whose_finish_died_does_the_rest_of_it_and_ends_the_named_task(system: System) -> None:
    # Given an update saved as failed by a finish that died before it released the lock and told the app, and a poll
    # loop that gave up on it (GiveUp names its Poll task)
    _, update_id = downloading(system, 600)
    loop = new_loop(system, update_id)
    ExpressLoop(system).poll(loop)
    system.updates.save(lifecycle.finish(system.record(update_id), system.clock.now()), expected_version=1)
    # When Finalize runs with the loop's token
    output = system.use_cases.finalize_update()(update_id, None, loop.parent_token)
    # Then the finish is completed (lock, event) and the Poll task ended with the update's status
    assert output.status is UpdateStatus.FAILED
    record = system.record(update_id)
    connection = system.connections.get(record.owner_id, record.connection_id)
    assert connection is not None and connection.active_update_id is None
    assert [type(e) for e in system.events.events] == [UpdateFailed]
    assert [(t, o.status) for t, o in system.workflow.releases] == [(loop.parent_token, UpdateStatus.FAILED)]
    assert not system.workflow.is_open(update_id)


def test_finalize_for_an_update_that_is_gone_says_so_and_ends_the_named_task(system: System) -> None:
    # Given a workflow whose update is not stored (nobody recorded it)
    system.workflow.start(workflow_input("8" * 32, system.settings))
    token = system.workflow.token_of("8" * 32)
    # When Finalize runs, from the update workflow's Catch and from a loop's GiveUp
    assert system.use_cases.finalize_update()("8" * 32, None).status is None
    output = system.use_cases.finalize_update()("8" * 32, None, token)
    # Then it says the update is gone, and the named task ends with that
    assert output.status is None
    assert [(t, o.status) for t, o in system.workflow.releases] == [(token, None)]
    assert not system.workflow.is_open("8" * 32)
