"""ReconcileStaleUpdates: no update stays open and no lock stays held because a workflow never started, ended without
finishing its update, or failed in Finalize."""

from __future__ import annotations

from datetime import timedelta

from bankupdate.domain import lifecycle
from bankupdate.domain.errors import AwsThrottled
from bankupdate.domain.model import UpdateRecord, UpdateStatus
from bankupdate.ports import ExecutionState
from bankupdate.services.recovery import workflow_input
from bankupdate.usecases.reconcile_stale_updates import SWEEP_RESERVE_SECONDS
from tests.usecases.system import DEMO, BankUser, System


def _orphan(system: System, user: BankUser, update_id: str = "7" * 32) -> UpdateRecord:
    """An update recorded by a trigger that died before it started the update's workflow."""
    record = lifecycle.new_user_present(
        update_id=update_id,
        owner_id=user.owner_id,
        connection_id=user.connection,
        options=system.request(user).options,
        integration=system.settings.integration,
        known_account_ids=(),
        execution_arn=system.workflow.execution_arn(update_id),
        now=system.clock.now(),
        timing=system.settings.timing,
    )
    assert system.updates.create(record)
    return record


def _finalize_failed_leaving_the_lock(system: System) -> tuple[BankUser, str]:
    """An update Finalize saved as finished before it failed for good: the lock still held, the execution failed."""
    user = system.new_user()
    started = system.trigger(user, credentials=DEMO)
    system.run(started.update_id)
    system.workflow.catch(started.update_id, "States.Timeout")
    system.updates.save(lifecycle.finish(system.record(started.update_id), system.clock.now()), expected_version=1)
    system.workflow.end(started.update_id, "FAILED")
    return user, started.update_id


def test_an_open_update_without_a_workflow_gets_one(system: System) -> None:
    # Given an update recorded by a trigger that died before it started the update's workflow
    user = system.new_user()
    record = _orphan(system, user)
    # When the reconciler runs after the grace period
    system.clock.advance(system.settings.orphan_grace_seconds + 1)
    run = system.use_cases.reconcile_stale_updates()()
    # Then the update's workflow runs now, started by name without asking Step Functions about it first (no task
    # of a workflow had reached the record)
    assert (run.open_checked, run.recovered, run.failed_repaired, run.throttled) == (1, 1, 0, False)
    assert system.workflow.state_reads == 0
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
    user, _ = _finalize_failed_leaving_the_lock(system)
    # When the reconciler runs
    run = system.use_cases.reconcile_stale_updates()()
    # Then the rest of the finish is done: the lock is free
    assert run.failed_repaired == 1
    connection = system.connections.get(user.owner_id, user.connection)
    assert connection is not None and connection.active_update_id is None


def test_a_failed_workflow_sweep_that_aws_throttles_ends_the_run_well_and_a_later_run_repairs(system: System) -> None:
    # Given an update Finalize saved as finished before it failed for good (the lock still held), and Step Functions
    # refusing ListExecutions for rate past botocore's retries
    user, update_id = _finalize_failed_leaving_the_lock(system)
    system.workflow.list_error = AwsThrottled("AWS refused states ListExecutions for rate (ThrottlingException)")
    # When the reconciler runs
    run = system.use_cases.reconcile_stale_updates()()
    # Then the run ends without failing, saying it was throttled, and the lock is still held
    assert (run.failed_repaired, run.throttled) == (0, True)
    held = system.connections.get(user.owner_id, user.connection)
    assert held is not None and held.active_update_id == update_id
    # When Step Functions lists again and a run comes within the hour it looks back
    system.workflow.list_error = None
    system.clock.advance(600)
    run = system.use_cases.reconcile_stale_updates()()
    # Then the lock is free
    assert (run.failed_repaired, run.throttled) == (1, False)
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


def test_an_update_whose_workflow_ended_before_reaching_it_is_finished_as_stalled(system: System) -> None:
    # Given an update whose workflow was started and ended before any of its tasks reached the record
    user = system.new_user()
    record = _orphan(system, user)
    system.workflow.start(workflow_input(record.update_id, system.settings))
    system.workflow.end(record.update_id, "ABORTED")
    # When the reconciler runs after the grace period
    system.clock.advance(system.settings.orphan_grace_seconds + 1)
    run = system.use_cases.reconcile_stale_updates()()
    # Then the start by name was refused (the name is taken), the check found the execution over, and the update is
    # finished as stalled with its connection free
    assert run.recovered == 1 and system.workflow.state_reads == 1
    ended = system.record(record.update_id)
    assert ended.status is UpdateStatus.FAILED and ended.error is not None and ended.error.code == "UPDATE_STALLED"


def test_a_run_that_aws_throttles_stops_there_and_the_next_run_goes_on(system: System) -> None:
    # Given two updates without a workflow, and Step Functions refusing starts for rate past botocore's retries
    first, second = system.new_user(), system.new_user()
    orphans = [_orphan(system, first, "7" * 32), _orphan(system, second, "8" * 32)]
    system.workflow.start_error = AwsThrottled("AWS refused states StartExecution for rate (ThrottlingException)")
    system.clock.advance(system.settings.orphan_grace_seconds + 1)
    # When the reconciler runs
    run = system.use_cases.reconcile_stale_updates()()
    # Then it stops at the first refusal, without failing (the run and its retries would meet the same rate)
    assert (run.open_checked, run.recovered, run.throttled) == (1, 0, True)
    # When Step Functions takes starts again and the next run comes
    system.workflow.start_error = None
    run = system.use_cases.reconcile_stale_updates()()
    # Then both updates have their workflow
    assert (run.open_checked, run.recovered, run.throttled) == (2, 2, False)
    assert all(system.workflow.state(o.update_id) is ExecutionState.RUNNING for o in orphans)


def test_a_run_near_the_end_of_its_time_stops_sweeping_and_the_next_run_goes_on(system: System) -> None:
    # Given two updates without a workflow, and an invocation whose time runs out after the first of them
    first, second = system.new_user(), system.new_user()
    orphans = [_orphan(system, first, "7" * 32), _orphan(system, second, "8" * 32)]
    system.clock.advance(system.settings.orphan_grace_seconds + 1)
    left = iter([300.0, SWEEP_RESERVE_SECONDS - 1])
    # When the reconciler runs
    run = system.use_cases.reconcile_stale_updates()(lambda: next(left))
    # Then it recovered the first and left the second for the next run, ending in time
    assert (run.open_checked, run.recovered, run.out_of_time) == (1, 1, True)
    # (the first, whose workflow no poll reached yet, is started by name again: Step Functions answers that as a
    # start of the running execution)
    run = system.use_cases.reconcile_stale_updates()()
    assert (run.open_checked, run.out_of_time) == (2, False)
    assert all(system.workflow.state(o.update_id) is ExecutionState.RUNNING for o in orphans)
