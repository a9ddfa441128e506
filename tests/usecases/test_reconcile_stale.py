"""ReconcileStaleUpdates: no update stays open and no lock stays held because a workflow never started, ended without
finishing its update, or failed in Finalize."""

from __future__ import annotations

from datetime import timedelta

from bankupdate.domain import lifecycle
from bankupdate.domain.model import UpdateStatus
from bankupdate.ports import ExecutionState
from tests.usecases.system import DEMO, System


def test_an_open_update_without_a_workflow_gets_one(system: System) -> None:
    # Given an update recorded by a trigger that died before it started the update's workflow
    user = system.new_user()
    record = lifecycle.new_user_present(
        update_id="7" * 32,
        owner_id=user.owner_id,
        connection_id=user.connection,
        options=system.request(user).options,
        integration=system.settings.integration,
        known_account_ids=(),
        execution_arn=system.workflow.execution_arn("7" * 32),
        now=system.clock.now(),
        timing=system.settings.timing,
    )
    assert system.updates.create(record)
    # When the reconciler runs after the grace period
    system.clock.advance(system.settings.orphan_grace_seconds + 1)
    run = system.use_cases.reconcile_stale_updates()()
    # Then the update's workflow runs now
    assert (run.open_checked, run.recovered, run.failed_repaired) == (1, 1, 0)
    assert system.workflow.state(record.update_id) is ExecutionState.RUNNING
    # And its poll loop brings it to an end without calling finAPI's update (the record says it may have been
    # called: the polls find no fresh result)
    system.run(record.update_id)
    ended = system.record(record.update_id)
    assert ended.status is UpdateStatus.FAILED and ended.error is not None
    assert ended.error.code == "UPSTREAM_UNAVAILABLE" and system.update_calls(user.connection) == []
    assert system.workflow.state(record.update_id) is ExecutionState.ENDED


def test_an_open_update_whose_workflow_ended_is_finished_as_stalled(system: System) -> None:
    # Given an update waiting for its user whose execution ended without finishing it
    user = system.new_user()
    started = system.trigger(user, credentials=DEMO)
    system.run(started.update_id)
    system.workflow.end(started.update_id, "ABORTED")
    # When the reconciler runs after the grace period
    system.clock.advance(system.settings.orphan_grace_seconds + 1)
    run = system.use_cases.reconcile_stale_updates()()
    # Then the update is finished as stalled, and its connection free
    ended = system.record(started.update_id)
    assert run.recovered == 1
    assert ended.status is UpdateStatus.FAILED and ended.error is not None and ended.error.code == "UPDATE_STALLED"
    connection = system.connections.get(user.owner_id, user.connection)
    assert connection is not None and connection.active_update_id is None


def test_a_failed_finalize_that_left_the_lock_is_repaired(system: System) -> None:
    # Given an update Finalize saved as finished before it failed for good (the lock still held, the execution failed)
    user = system.new_user()
    started = system.trigger(user, credentials=DEMO)
    system.run(started.update_id)
    system.workflow.catch(started.update_id, "States.Timeout")
    system.updates.save(lifecycle.finish(system.record(started.update_id), system.clock.now()), expected_version=1)
    system.workflow.end(started.update_id, "FAILED")
    # When the reconciler runs
    run = system.use_cases.reconcile_stale_updates()()
    # Then the rest of the finish is done: the lock is free
    assert run.failed_repaired == 1
    connection = system.connections.get(user.owner_id, user.connection)
    assert connection is not None and connection.active_update_id is None


def test_running_and_young_updates_are_left_alone(system: System) -> None:
    # Given an update whose workflow runs, and one too young to judge
    user, other = system.new_user(), system.new_user()
    running = system.trigger(user, credentials=DEMO)
    system.run(running.update_id)
    system.clock.advance(system.settings.orphan_grace_seconds + 1)
    young = system.trigger(other, credentials=DEMO)
    # When the reconciler runs
    run = system.use_cases.reconcile_stale_updates()()
    # Then it checked the old one and touched neither
    assert (run.open_checked, run.recovered, run.failed_repaired) == (1, 0, 0)
    assert system.record(running.update_id).status is UpdateStatus.AUTHENTICATION_REQUIRED
    assert system.record(young.update_id).status is UpdateStatus.AUTHENTICATION_REQUIRED
    assert system.workflow.is_open(running.update_id) and system.clock.now() - young.created_at < timedelta(seconds=1)
