"""TriggerUpdate (user present): lock, finAPI, workflow; and every way a trigger is refused or goes wrong."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import httpx
import pytest
from pydantic import SecretStr

from bankupdate.api.views import update_view
from bankupdate.contract import WaitingTask
from bankupdate.domain import lifecycle
from bankupdate.domain.answers import Credential
from bankupdate.domain.errors import (
    AwsThrottled,
    BankRejected,
    IdempotencyKeyReused,
    InvalidRequest,
    NotFound,
    TooManyUpdates,
    UpdateAlreadyRunning,
    UpstreamUnavailable,
)
from bankupdate.domain.events import AuthenticationRequested, UpdateFailed, UpdateSucceeded
from bankupdate.domain.model import ChallengeStatus, UpdateOptions, UpdateStatus
from bankupdate.ports import ExecutionState
from finapi_sandbox import SandboxServer
from tests.usecases.polling import system_with
from tests.usecases.system import APP_PSU, DEMO, NO_SCA, TAN, System


def test_an_update_without_sca_is_started_and_its_workflow_polls_until_it_succeeds(system: System) -> None:
    # Given a user whose bank asks for no SCA
    user = system.new_user()
    # When they sync now
    started = system.trigger(user, credentials=NO_SCA)
    # Then finAPI runs the download, the workflow is started and the connection is locked by the update
    assert started.status is UpdateStatus.IN_PROGRESS and started.start_confirmed
    assert [s.update_id for s in system.workflow.starts] == [started.update_id]
    connection = system.connections.get(user.owner_id, user.connection)
    assert connection is not None and connection.active_update_id == started.update_id
    assert len(system.update_calls(user.connection)) == 1 and system.update_calls(user.connection)[0].psu_present
    # When the workflow runs
    system.run(started.update_id)
    # Then its poll loop polled until the download ended: the update succeeded, the lock is free, and the Poll task
    # (the whole execution) ended with the update's status
    done = system.record(started.update_id)
    assert done.status is UpdateStatus.SUCCEEDED and done.result is not None and len(done.result.accounts) == 2
    connection = system.connections.get(user.owner_id, user.connection)
    assert connection is not None and connection.active_update_id is None
    assert connection.health.last_outcome is UpdateStatus.SUCCEEDED
    assert system.workflow.executions[started.update_id].states == ["Poll"]
    assert system.workflow.executions[started.update_id].output == system.workflow.releases[-1][1]
    assert system.workflow.releases[-1][1].status is UpdateStatus.SUCCEEDED
    assert [type(e) for e in system.events.events] == [UpdateSucceeded]


def test_a_bank_asking_for_sca_leaves_the_update_waiting_for_the_user(system: System) -> None:
    # Given a bank that asks for a two-step procedure
    user = system.new_user()
    # When the user syncs
    started = system.trigger(user, credentials=DEMO)
    # Then the update waits for the user with the bank's choices, and the app is told
    assert started.status is UpdateStatus.AUTHENTICATION_REQUIRED and started.auth_round == 1
    assert started.challenge is not None and started.challenge.status is ChallengeStatus.TWO_STEP_PROCEDURE_REQUIRED
    assert {p.procedure_name for p in started.challenge.two_step_procedures} >= {"smsTAN", "Demo Decoupled Auth"}
    assert started.auth_window_ends_at == system.clock.now() + timedelta(seconds=system.settings.auth_window_seconds)
    (asked,) = system.events.of_type(AuthenticationRequested)
    assert (asked.update_id, asked.challenge_status, asked.auth_round) == (
        started.update_id,
        "TWO_STEP_PROCEDURE_REQUIRED",
        1,
    )
    # When the workflow runs
    system.run(started.update_id)
    # Then it waits for the user (AwaitUser) on a token parked on the update, for the answer route to find
    stored = system.updates.get(started.update_id)
    assert stored is not None and stored.task_token == system.workflow.token_of(started.update_id)
    assert stored.task_kind is WaitingTask.USER
    assert stored.record.status is UpdateStatus.AUTHENTICATION_REQUIRED
    assert system.workflow.executions[started.update_id].states == ["Poll", "AwaitUser"]
    assert system.workflow.is_open(started.update_id)


def test_finapi_needing_credentials_that_were_not_sent_asks_the_user_for_them(system: System) -> None:
    # Given a connection without consent and without a stored PIN
    user = system.new_user(consent_expires_at=None)
    # When the user syncs without typing credentials
    started = system.trigger(user)
    # Then the update asks for the bank's login fields
    assert started.status is UpdateStatus.AUTHENTICATION_REQUIRED
    assert started.challenge is not None and started.challenge.status is ChallengeStatus.CREDENTIALS_REQUIRED
    assert started.challenge.credential_labels == ("Onlinebanking-ID", "PIN")


def test_wrong_credentials_fail_the_update_at_once_without_a_workflow(system: System) -> None:
    # Given a user who mistypes their PIN
    user = system.new_user()
    wrong = (DEMO[0], DEMO[1].model_copy(update={"value": DEMO[1].value.__class__("wrong")}))
    # When they sync
    with pytest.raises(BankRejected) as refused:
        system.trigger(user, credentials=wrong)
    # Then the bank's refusal names the failed update, which is FAILED with the lock released
    update_id = refused.value.details["updateId"]
    failed = system.record(update_id)
    assert failed.status is UpdateStatus.FAILED and failed.error is not None and failed.error.code == "BANK_REJECTED"
    connection = system.connections.get(user.owner_id, user.connection)
    assert connection is not None and connection.active_update_id is None
    assert connection.health.user_action_required is True
    assert system.workflow.starts == []
    assert [type(e) for e in system.events.events] == [UpdateFailed]


def test_finapi_failing_with_5xx_fails_the_update_and_starts_nothing(system: System) -> None:
    # Given finAPI answering its update endpoint with 500
    user = system.new_user()
    system.sandbox.world.add_fault(path="/bankConnections/update", status=500, times=1)
    # When the user syncs
    with pytest.raises(UpstreamUnavailable) as refused:
        system.trigger(user, credentials=NO_SCA)
    # Then the update failed (finAPI answered: it started nothing) and the lock is free
    failed = system.record(refused.value.details["updateId"])
    assert failed.status is UpdateStatus.FAILED and failed.error is not None and failed.error.retryable
    connection = system.connections.get(user.owner_id, user.connection)
    assert connection is not None and connection.active_update_id is None
    assert system.workflow.starts == []


def test_a_lost_answer_from_finapi_is_found_out_by_the_polls(system: System) -> None:
    # Given finAPI starting the download but its answer getting lost on the way back
    user = system.new_user()
    system.sandbox.world.add_fault(path="/bankConnections/update", drop=True, when="after", times=1)
    # When the user syncs
    started = system.trigger(user, credentials=NO_SCA)
    # Then the update runs unconfirmed under its workflow, and the polls find finAPI's fresh result
    assert started.status is UpdateStatus.IN_PROGRESS and started.start_confirmed is False
    system.run(started.update_id)
    assert system.record(started.update_id).status is UpdateStatus.SUCCEEDED
    assert len(system.update_calls(user.connection)) == 1


def test_an_answer_lost_before_finapi_started_anything_fails_once_the_polls_find_no_result(system: System) -> None:
    # Given finAPI never getting the update call (the connection drops before it)
    user = system.new_user()
    system.sandbox.world.add_fault(path="/bankConnections/update", drop=True, when="before", times=1)
    # When the user syncs and the workflow polls
    started = system.trigger(user, credentials=NO_SCA)
    system.run(started.update_id)
    # Then no fresh result means finAPI did not start: the update fails, retryably
    failed = system.record(started.update_id)
    assert failed.status is UpdateStatus.FAILED and failed.error is not None
    assert failed.error.code == "UPSTREAM_UNAVAILABLE" and failed.error.retryable


def test_a_second_trigger_while_an_update_runs_names_the_running_update(system: System) -> None:
    # Given an update waiting for the user
    user = system.new_user()
    first = system.trigger(user, credentials=DEMO)
    # When the user triggers again
    with pytest.raises(UpdateAlreadyRunning) as refused:
        system.trigger(user, credentials=DEMO)
    # Then the answer names the running update, nothing is recovered, and finAPI was called once
    assert refused.value.details["updateId"] == first.update_id and refused.value.details["recovered"] is False
    assert len(system.update_calls(user.connection)) == 1
    assert len(system.updates.all()) == 1


def test_a_trigger_waits_for_an_update_that_is_finishing(system: System) -> None:
    # Given an update that is finished but whose finish has not released the lock yet
    user = system.new_user()
    first = system.trigger(user, credentials=DEMO)
    finished = system.updates.save(
        lifecycle.finish(system.record(first.update_id), system.clock.now()), expected_version=1
    )
    assert finished.record.status is UpdateStatus.FAILED

    def finish_releases_the_lock(_: float) -> None:  # while the trigger waits
        system.connections.release(user.owner_id, user.connection, update_id=first.update_id, outcome=None)

    system.clock.on_advance.append(finish_releases_the_lock)
    # When the user triggers again
    second = system.trigger(user, credentials=NO_SCA)
    # Then the trigger waited a moment and got the lock instead of a conflict
    assert second.status is UpdateStatus.IN_PROGRESS and 0 < sum(system.clock.sleeps) <= 2


def _orphan(system: System, user_connection: tuple[str, int], *, recorded: bool = True) -> str:
    """An update whose trigger died after locking (and recording it) but before starting its workflow."""
    owner, connection_id = user_connection
    now = system.clock.now()
    update_id = "0" * 31 + "1"
    system.connections.acquire_lock(
        owner, connection_id, update_id=update_id, now=now, lease_until=now + timedelta(hours=1)
    )
    if recorded:
        record = lifecycle.new_user_present(
            update_id=update_id,
            owner_id=owner,
            connection_id=connection_id,
            options=UpdateOptions(),
            integration=system.settings.integration,
            known_account_ids=(),
            execution_arn=system.workflow.execution_arn(update_id),
            now=now,
            timing=system.settings.timing,
        )
        assert system.updates.create(record)
    return update_id


def test_an_orphaned_update_holding_the_lock_gets_its_workflow_started_on_contact(system: System) -> None:
    # Given a connection locked by an update whose workflow never started, older than the grace period
    user = system.new_user()
    system.use_cases.sync_connections()(owner_id=user.owner_id)
    orphan = _orphan(system, (user.owner_id, user.connection))
    system.clock.advance(system.settings.orphan_grace_seconds + 1)
    # When the user triggers
    with pytest.raises(UpdateAlreadyRunning) as refused:
        system.trigger(user, credentials=NO_SCA)
    # Then the orphan is named and on its way to an end again: its workflow runs now
    assert refused.value.details == {"updateId": orphan, "recovered": True, "retryAfterSeconds": 5}
    assert system.workflow.state(orphan) is ExecutionState.RUNNING
    # And its workflow ends it: finAPI was never really called, so no fresh result ever shows, and finAPI's update is
    # not called by the workflow either
    system.run(orphan)
    assert system.record(orphan).status is UpdateStatus.FAILED
    assert system.update_calls(user.connection) == []
    connection = system.connections.get(user.owner_id, user.connection)
    assert connection is not None and connection.active_update_id is None


def test_a_young_update_holding_the_lock_is_left_to_its_trigger(system: System) -> None:
    user = system.new_user()
    system.use_cases.sync_connections()(owner_id=user.owner_id)
    orphan = _orphan(system, (user.owner_id, user.connection))
    with pytest.raises(UpdateAlreadyRunning) as refused:
        system.trigger(user, credentials=NO_SCA)
    assert refused.value.details["recovered"] is False
    assert system.workflow.state(orphan) is ExecutionState.MISSING


def test_a_lock_without_a_recorded_update_is_freed_on_contact(system: System) -> None:
    # Given a lock whose trigger died before it recorded the update (finAPI was never called)
    user = system.new_user()
    system.use_cases.sync_connections()(owner_id=user.owner_id)
    _orphan(system, (user.owner_id, user.connection), recorded=False)
    # When the user triggers, and again
    with pytest.raises(UpdateAlreadyRunning) as refused:
        system.trigger(user, credentials=NO_SCA)
    second = system.trigger(user, credentials=NO_SCA)
    # Then the first is told to come back (the lock was freed), the second runs
    assert refused.value.details["recovered"] is True
    assert second.status is UpdateStatus.IN_PROGRESS


def test_a_finished_update_whose_finish_died_before_the_release_is_repaired_on_contact(system: System) -> None:
    # Given an update saved as finished whose finish died before releasing the lock
    user = system.new_user()
    first = system.trigger(user, credentials=DEMO)
    system.updates.save(lifecycle.finish(system.record(first.update_id), system.clock.now()), expected_version=1)
    # When the user triggers again
    with pytest.raises(UpdateAlreadyRunning) as refused:
        system.trigger(user, credentials=NO_SCA)
    # Then the rest of that finish is redone: the lock is free and the next trigger runs
    assert refused.value.details["recovered"] is True
    connection = system.connections.get(user.owner_id, user.connection)
    assert connection is not None and connection.active_update_id is None
    assert system.trigger(user, credentials=NO_SCA).status is UpdateStatus.IN_PROGRESS


def test_the_users_updates_are_limited_per_window(system: System) -> None:
    # Given a user who updated a connection as often as a window allows
    user = system.new_user()
    for _ in range(system.settings.user_updates_per_window):
        update = system.trigger(user, credentials=NO_SCA)
        system.run(update.update_id)
    calls = len(system.update_calls(user.connection))
    # When they trigger once more
    with pytest.raises(TooManyUpdates) as refused:
        system.trigger(user, credentials=NO_SCA)
    # Then they are told when to come back, and nothing was recorded or sent
    assert 1 <= refused.value.details["retryAfterSeconds"] <= system.settings.user_update_window_seconds
    assert len(system.update_calls(user.connection)) == calls
    assert len(system.updates.all()) == system.settings.user_updates_per_window
    # And once the next window begins, the update runs
    system.clock.advance(refused.value.details["retryAfterSeconds"])
    assert system.trigger(user, credentials=NO_SCA).status is UpdateStatus.IN_PROGRESS


def test_a_connection_seen_for_the_first_time_is_checked_at_finapi_and_recorded(system: System) -> None:
    # Given a connection we have no record of
    user = system.new_user()
    assert system.connections.get(user.owner_id, user.connection) is None
    # When the user syncs it
    started = system.trigger(user, credentials=NO_SCA)
    # Then the connection is recorded, with what finAPI says about it, by the write that locks it
    connection = system.connections.get(user.owner_id, user.connection)
    assert connection is not None and connection.active_update_id == started.update_id
    assert len(connection.health.known_account_ids) == 2 and connection.health.consent_expires_at is not None


def test_a_connection_that_is_not_the_users_at_finapi_is_refused_without_a_record(system: System) -> None:
    # Given someone else's connection at finAPI
    user, stranger = system.new_user(), system.new_user()
    # When the user syncs it
    with pytest.raises(NotFound):
        system.trigger(user, credentials=NO_SCA, connection_id=stranger.connection)
    # Then nothing is recorded and finAPI's update endpoint was never called
    assert system.connections.get(user.owner_id, stranger.connection) is None
    assert system.updates.all() == [] and system.update_calls(stranger.connection) == []


def test_a_repeated_idempotency_key_gets_the_first_update(system: System) -> None:
    # Given an update triggered with an Idempotency-Key
    user = system.new_user()
    first = system.trigger(user, credentials=NO_SCA, idempotency_key="key-1")
    # When the app repeats the request (its connection dropped before the answer)
    again = system.trigger(user, credentials=NO_SCA, idempotency_key="key-1")
    # Then it gets the same update and finAPI was called once
    assert again.update_id == first.update_id
    assert len(system.update_calls(user.connection)) == 1 and system.idempotency.runs == 1


def test_an_idempotency_key_reused_with_other_options_is_refused(system: System) -> None:
    user = system.new_user()
    system.trigger(user, credentials=NO_SCA, idempotency_key="key-1")
    with pytest.raises(IdempotencyKeyReused):
        system.trigger(
            user, credentials=NO_SCA, idempotency_key="key-1", options=UpdateOptions(import_new_accounts=True)
        )
    assert len(system.update_calls(user.connection)) == 1


def test_a_redirect_url_the_deployment_does_not_allow_is_refused_before_anything_happens(system: System) -> None:
    user = system.new_user("DEMO0002")
    with pytest.raises(InvalidRequest) as refused:
        system.trigger(user, options=UpdateOptions(redirect_url="https://evil.example.com/back"))
    assert refused.value.details["field"] == "redirectUrl"
    assert system.updates.all() == [] and system.connections.get(user.owner_id, user.connection) is None


def test_a_workflow_that_cannot_start_fails_the_update_and_frees_the_lock(system: System) -> None:
    # Given Step Functions refusing to start executions
    user = system.new_user()
    system.workflow.start_error = RuntimeError("StartExecution throttled")
    # When the user syncs
    with pytest.raises(RuntimeError):
        system.trigger(user, credentials=NO_SCA)
    # Then the update is failed (finAPI may be downloading, but nobody would ever finish it) and the lock is free
    (failed,) = system.updates.all()
    assert failed.status is UpdateStatus.FAILED and failed.error is not None
    connection = system.connections.get(user.owner_id, user.connection)
    assert connection is not None and connection.active_update_id is None


@pytest.mark.parametrize(
    ("credentials", "status"),
    [(NO_SCA, UpdateStatus.IN_PROGRESS), (DEMO, UpdateStatus.AUTHENTICATION_REQUIRED)],
    ids=["downloading", "challenge"],
)
def test_a_throttled_workflow_start_keeps_the_update_for_the_reconciler(
    system: System, credentials: tuple[Credential, ...], status: UpdateStatus
) -> None:
    # Given Step Functions refusing to start executions for rate, past botocore's retries
    user = system.new_user()
    system.workflow.start_error = AwsThrottled("AWS refused states StartExecution for rate (ThrottlingException)")
    # When the user syncs
    started = system.trigger(user, credentials=credentials)
    # Then finAPI has the update and the caller gets it as started: open, its connection locked, no workflow yet
    assert started.status is status and started.error is None
    assert system.workflow.state(started.update_id) is ExecutionState.MISSING
    connection = system.connections.get(user.owner_id, user.connection)
    assert connection is not None and connection.active_update_id == started.update_id
    if status is UpdateStatus.AUTHENTICATION_REQUIRED:
        # And the user can answer the bank meanwhile: the answer needs the record, not the workflow
        system.answer(user, started.update_id, two_step_procedure_id="901")
        answered = system.answer(user, started.update_id, challenge_response=SecretStr(TAN))
        assert answered.status is UpdateStatus.IN_PROGRESS
    # When Step Functions takes starts again and the reconciler runs after the grace period
    system.workflow.start_error = None
    system.clock.advance(system.settings.orphan_grace_seconds + 1)
    run = system.use_cases.reconcile_stale_updates()()
    # Then the update's workflow runs, and it ends the update finAPI began
    assert run.recovered == 1 and system.workflow.state(started.update_id) is ExecutionState.RUNNING
    system.run(started.update_id)
    assert system.record(started.update_id).status is UpdateStatus.SUCCEEDED
    # (finAPI's update endpoint: the start, and each of the user's answers; none from the recovery)
    answers = 2 if status is UpdateStatus.AUTHENTICATION_REQUIRED else 0
    assert len(system.update_calls(user.connection)) == 1 + answers
    connection = system.connections.get(user.owner_id, user.connection)
    assert connection is not None and connection.active_update_id is None


@pytest.mark.parametrize(
    "foreign",
    [
        "https://app.example.com.evil.com/back",
        "https://app.example.com@evil.com/back",
        "https://app.example.com:443@evil.com/back",
        "https://app.example.com\uff0eevil.com/back",
        "https://app.example.com\\@evil.com/back",
        "https://app.example.comevil.com/",
    ],
)
def test_an_allow_list_entry_without_a_trailing_slash_admits_its_origin_only(
    finapi: SandboxServer, foreign: str
) -> None:
    # Given the operator allows their app's origin, written without a trailing slash
    system = system_with(finapi, ALLOWED_REDIRECT_URLS="https://app.example.com")
    user = system.new_user("DEMO0002", consent_expires_at=None)
    # When the app asks for a return address that only starts with those characters
    with pytest.raises(InvalidRequest) as refused:
        system.trigger(user, options=UpdateOptions(redirect_url=foreign))
    # Then it is refused before anything happens: the bank never gets it, so no authorization code goes there
    assert refused.value.details == {"field": "redirectUrl", "allowed": ["https://app.example.com"]}
    assert system.updates.all() == [] and system.update_calls(user.connection) == []


def test_a_return_address_at_the_allowed_origin_gets_the_banks_answer(finapi: SandboxServer) -> None:
    # Given the operator allows their app's origin, written without a trailing slash
    system = system_with(finapi, ALLOWED_REDIRECT_URLS="https://app.example.com")
    user = system.new_user("DEMO0002", consent_expires_at=None)
    # When the app gives a page of that origin as its return address
    started = system.trigger(user, options=UpdateOptions(redirect_url="https://app.example.com/bank-return"))
    # Then the bank's page sends the user (and the authorization code) back there
    assert started.challenge is not None and started.challenge.redirect_url is not None
    back = httpx.get(started.challenge.redirect_url, follow_redirects=False).headers["location"]
    assert back.startswith("https://app.example.com/bank-return?")


def test_an_ipv6_address_finapi_refuses_leaves_the_update_going_on_counted_as_unattended(system: System) -> None:
    # Given a finAPI that refuses a PSU-IP-Address that is no IPv4 address (400 naming the header), and a user on an
    # IPv6 network whose bank asks for SCA
    user = system.new_user()
    request = replace(
        system.request(user, credentials=DEMO), psu=APP_PSU.model_copy(update={"ip_address": "2001:db8::5"})
    )
    system.sandbox.world.set_psu_ipv6("refused")
    try:
        # When they sync
        started = system.use_cases.trigger_update()(request)
        # and answer the bank's first question (that call carries their address too)
        answered = system.answer(user, started.update_id, two_step_procedure_id="901")
    finally:
        system.sandbox.world.set_psu_ipv6("replaced")
    # Then the update goes on without the address instead of failing, and says the bank counts it as unattended
    assert started.status is UpdateStatus.AUTHENTICATION_REQUIRED and started.counted_as_unattended
    assert answered.status is UpdateStatus.AUTHENTICATION_REQUIRED and answered.counted_as_unattended
    assert update_view(answered, system.settings.max_auth_rounds).model_dump(by_alias=True)["countedAsUnattended"]
    # And the connection's unattended budget of the day counts it once
    connection = system.connections.get(user.owner_id, user.connection)
    assert connection is not None
    assert system.settings.budget.used(connection.unattended, system.clock.now()) == 1


def test_an_update_whose_user_is_present_with_an_ipv4_address_is_not_counted_as_unattended(system: System) -> None:
    user = system.new_user()
    system.sandbox.world.set_psu_ipv6("refused")
    try:
        started = system.trigger(user, credentials=NO_SCA)
    finally:
        system.sandbox.world.set_psu_ipv6("replaced")
    assert started.status is UpdateStatus.IN_PROGRESS and not started.counted_as_unattended
    connection = system.connections.get(user.owner_id, user.connection)
    assert connection is not None and system.settings.budget.used(connection.unattended, system.clock.now()) == 0
