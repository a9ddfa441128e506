"""A slice of the workflow suite at production's ratios: every duration of the template and the settings, and every
time limit the local stack enforces for AWS, times one factor (tests/support/scaled.py). The suites elsewhere shrink
some timings only; here a failed poll, a poll that outlives its Lambda timeout and a scheduled start that fails meet
production's heartbeats, retries, Express's five minutes and the queue's visibility timeout, and still end well."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from samtranslator.yaml_helper import yaml_parse

from local_stack.quotas import Quotas
from tests.conftest import ROOT, BankUser, running_stack
from tests.support.scaled import (
    FACTOR,
    environment_names,
    scaled_parameters,
    scaled_settings,
    scaled_template,
)
from tests.support.workflow import poll_loops, polls_of, transitions_of

NO_SCA = [{"label": "Onlinebanking-ID", "value": "demo_no_msa"}, {"label": "PIN", "value": "demo_no_msa"}]
TEMPLATE = yaml_parse((ROOT / "template.yaml").read_text())
DOWNLOAD = 60 * FACTOR  # a one-minute download


@pytest.fixture(scope="module")
def stack(sandbox: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    template = scaled_template(tmp_path_factory.mktemp("scaled"), FACTOR)
    with running_stack(
        sandbox,
        template=template,
        time_scale=FACTOR,
        wait_scale=1.0,  # the Wait states' durations come from the scaled settings
        retry_scale=FACTOR,
        env=scaled_settings(environment_names(TEMPLATE), FACTOR),
        parameter_overrides=scaled_parameters(TEMPLATE["Parameters"], FACTOR),
        quotas=Quotas.default(),  # AWS's default quotas (none binds here): a test aims a refusal at one call
    ) as local:
        yield local


def sync(user: BankUser) -> str:
    started = user.api.trigger(user.connections["DEMO0001"], {"interface": "XS2A", "loginCredentials": NO_SCA})
    assert started.status_code == 202, started.text
    return str(started.json()["updateId"])


def test_a_download_is_polled_at_production_ratios(new_user: Any, stack: Any) -> None:
    # Given a one-minute download (scaled)
    user: BankUser = new_user(download_seconds=DOWNLOAD)
    # When the user syncs
    update_id = sync(user)
    done = user.api.wait_for(update_id, {"SUCCEEDED"}, timeout=60)
    # Then it succeeds in one Standard transition, polled with gaps that grow with the download's age
    assert done["status"] == "SUCCEEDED" and transitions_of(stack, update_id) == ["Poll"]
    gaps = [p["waitSeconds"] for p in polls_of(stack, update_id)[:-1]]
    assert gaps == sorted(gaps) and len(gaps) >= 3


def test_one_failed_poll_is_retried_and_the_update_ends_well(new_user: Any, stack: Any) -> None:
    # Given Lambda fails one poll (its runtime crashed)
    user: BankUser = new_user(download_seconds=DOWNLOAD)
    stack.runtime.fail_next("PollUpdateStatusFunction", "Lambda.Unknown")
    # When the user syncs
    update_id = sync(user)
    # Then the loop's Retry (production's interval, scaled) polls again and the update succeeds
    assert user.api.wait_for(update_id, {"SUCCEEDED"}, timeout=60)["status"] == "SUCCEEDED"
    (loop,) = poll_loops(stack, update_id)
    assert any("lambdaFunctionFailedEventDetails" in e or "taskFailedEventDetails" in e for e in loop["events"])


def test_one_poll_that_outlives_its_lambda_timeout_is_retried_and_the_update_ends_well(
    new_user: Any, stack: Any
) -> None:
    # Given one poll hangs until Lambda ends it at the poll function's timeout (scaled)
    user: BankUser = new_user(download_seconds=DOWNLOAD)
    stack.runtime.stall_next("PollUpdateStatusFunction")
    # When the user syncs
    update_id = sync(user)
    # Then Step Functions sees Sandbox.Timedout, retries the poll, and the update succeeds inside its Poll task's
    # heartbeat (the poll's timeout times its attempts is within the reserve the loop keeps)
    assert user.api.wait_for(update_id, {"SUCCEEDED"}, timeout=60)["status"] == "SUCCEEDED"
    (loop,) = poll_loops(stack, update_id)
    failures = [e for e in loop["events"] if "taskFailedEventDetails" in e or "lambdaFunctionFailedEventDetails" in e]
    assert failures and "Sandbox.Timedout" in str(failures)
    assert transitions_of(stack, update_id) == ["Poll"]


def opted_in(stack: Any, user: BankUser) -> int:
    """The user's connection, recorded by the operator's sync and opted in to background updates: due now."""
    connection = user.connections["DEMO0001"]
    url = f"{stack.api_url}/v1/admin/users/{user.sub}/connections/sync"
    assert httpx.post(url, headers=stack.admin_headers("POST", url, b"")).status_code == 200
    assert user.api.connection_schedule(connection, enabled=True).status_code == 200
    return connection


def test_a_scheduled_start_refused_for_rate_comes_back_long_before_the_queues_visibility_timeout(
    new_user: Any, stack: Any, sandbox: Any
) -> None:
    # Given a connection opted in to background updates, and Step Functions refusing every attempt of the scheduled
    # start's StartExecution (botocore's three)
    user: BankUser = new_user(download_seconds=1, stored_pin=True)
    connection = opted_in(stack, user)
    standard = stack.physical_id("UpdateConnectionStateMachine")
    stack.quotas.refuse_next("states", "StartExecution", times=3, where=lambda p: p.get("stateMachineArn") == standard)
    calls_before = len(sandbox.world.calls)
    # When the schedule fires
    fired_at = time.monotonic()
    stack.fire_schedule("ScheduleUpdatesFunctionScheduler")
    # Then the refused start's message comes back after its first receive's delay (30-60 s, scaled), not after the
    # queue's 720 s (scaled), and the update runs once: finAPI called once, one unit of the day's budget spent
    visibility = 720 * FACTOR
    deadline = fired_at + visibility + 60
    while (listed := user.api.connection(connection).json()).get("lastOutcome") != "SUCCEEDED":
        assert time.monotonic() < deadline, listed
        time.sleep(0.5)
    assert stack.quotas.unmet_aims() == {}
    assert time.monotonic() - fired_at < visibility / 2
    updates = [c for c in sandbox.world.calls[calls_before:] if c.path.endswith("/bankConnections/update")]
    assert len(updates) == 1 and listed["schedule"]["unattendedUsedToday"] == 1


def test_a_scheduled_start_that_fails_comes_back_after_the_queues_visibility_timeout(
    new_user: Any, stack: Any, sandbox: Any
) -> None:
    # Given a connection opted in to background updates, and Lambda failing the scheduled start's first batch
    user: BankUser = new_user(download_seconds=1, stored_pin=True)
    connection = opted_in(stack, user)
    stack.runtime.fail_next("StartScheduledUpdateFunction", "Lambda.Unknown")
    calls_before = len(sandbox.world.calls)
    # When the schedule fires
    fired_at = time.monotonic()
    stack.fire_schedule("ScheduleUpdatesFunctionScheduler")
    # Then the failed batch stays in the queue for its visibility timeout (scaled), comes back, and the update runs
    # once: finAPI called once, one unit of the day's budget spent
    visibility = 720 * FACTOR
    deadline = fired_at + visibility + 60
    while True:
        listed = user.api.connection(connection).json()
        if listed.get("lastOutcome") == "SUCCEEDED":
            break
        assert time.monotonic() < deadline, listed
        time.sleep(0.5)
    assert time.monotonic() - fired_at >= visibility * 0.9
    updates = [c for c in sandbox.world.calls[calls_before:] if c.path.endswith("/bankConnections/update")]
    assert len(updates) == 1 and not updates[0].psu_present
    assert listed["schedule"]["unattendedUsedToday"] == 1
