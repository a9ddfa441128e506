"""FinalizeUpdate: the workflow's Catch, for each way the supervising task can fail, read against where the update
stood."""

from __future__ import annotations

import json

import pytest
from pydantic import SecretStr

from bankupdate.domain.events import UpdateExpired, UpdateFailed
from bankupdate.domain.model import UpdateStatus
from tests.usecases.system import DEMO, NO_SCA, TAN, System


def waiting_for_user(system: System) -> str:
    user = system.new_user()
    started = system.trigger(user, credentials=DEMO)
    system.supervise(started.update_id)
    return started.update_id


def downloading(system: System) -> str:
    """An update whose download runs for ten minutes, its looks parked on the timer."""
    user = system.new_user(download_seconds=600)
    started = system.trigger(user, credentials=NO_SCA)
    system.supervise(started.update_id)
    assert system.record(started.update_id).status is UpdateStatus.IN_PROGRESS
    return started.update_id


@pytest.mark.parametrize(
    ("stood", "error", "status", "code"),
    [
        ("waiting", "States.Timeout", UpdateStatus.EXPIRED, "AUTHENTICATION_EXPIRED"),
        ("waiting", "States.HeartbeatTimeout", UpdateStatus.EXPIRED, "AUTHENTICATION_EXPIRED"),
        ("downloading", "States.Timeout", UpdateStatus.FAILED, "TIMED_OUT"),
        ("downloading", "States.HeartbeatTimeout", UpdateStatus.FAILED, "UPDATE_STALLED"),
        ("downloading", "Sandbox.Timedout", UpdateStatus.FAILED, "UPDATE_STALLED"),
        ("waiting", "Lambda.Unknown", UpdateStatus.FAILED, "UPDATE_STALLED"),
    ],
)
def test_a_failed_task_ends_the_update_as_its_state_says(
    system: System, stood: str, error: str, status: UpdateStatus, code: str
) -> None:
    # Given an update waiting for its user, or downloading
    update_id = waiting_for_user(system) if stood == "waiting" else downloading(system)
    # When its supervising task fails this way and the Catch calls Finalize
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


def test_one_of_our_own_errors_comes_through_by_name(system: System) -> None:
    # Given a supervising task that raised one of our errors (a Lambda error named after its class)
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


def test_finalize_after_the_update_finished_repairs_what_its_finish_left(system: System) -> None:
    # Given an update that succeeded, but whose task failed afterwards (its release was lost)
    user = system.new_user()
    started = system.trigger(user, credentials=DEMO)
    system.supervise(started.update_id)
    system.answer(user, started.update_id, two_step_procedure_id="901")
    system.answer(user, started.update_id, challenge_response=SecretStr(TAN))
    system.deliver_looks()
    assert system.record(started.update_id).status is UpdateStatus.SUCCEEDED
    # When Finalize runs for it
    output = system.finalize_update()(started.update_id, None)
    # Then it keeps its outcome
    assert output.status is UpdateStatus.SUCCEEDED
    assert system.record(started.update_id).status is UpdateStatus.SUCCEEDED


def test_finalize_for_an_update_that_is_gone_says_so(system: System) -> None:
    assert system.finalize_update()("8" * 32, None).status is None
