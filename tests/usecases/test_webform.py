"""Web Form 2.0 deployments: the background update task at finAPI, its web form when the bank needs the user, and
finAPI's callbacks (which only say "look again"). finAPI is the sandbox with its Web Form 2.0 simulator; the user
fills the form over HTTP as a browser would."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import Any

import pytest

from bankupdate.domain.errors import NotFound
from bankupdate.domain.events import AuthenticationRequested, UpdateSucceeded
from bankupdate.domain.model import ChallengeStatus, UpdateRecord, UpdateStatus
from bankupdate.domain.upstream import ConnectionFacts
from finapi_sandbox import SandboxServer
from finapi_sandbox.webform import WebFormConfig, WebFormServer
from tests.fakes import InMemoryUserStore
from tests.support.webform import PageDriver, Receiver, running_receiver
from tests.usecases.conftest import clock_following
from tests.usecases.scheduled import opted_in, started_unattended
from tests.usecases.system import APP_PSU, BankUser, System, access_gateway, settings_for, webform_gateway

CALLBACK = re.compile(r"^/v1/webform-callbacks/(?P<token>[^/]+)/(?P<kind>finalised|web-form-required)$")


@pytest.fixture(scope="module")
def webform(finapi: SandboxServer) -> Iterator[WebFormServer]:
    server = WebFormServer(finapi, WebFormConfig(allow_http_loopback_urls=True, decoupled_poll_seconds=0)).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    with running_receiver() as running:
        yield running


@pytest.fixture
def system(finapi: SandboxServer, webform: WebFormServer, receiver: Receiver) -> Iterator[System]:
    clock = clock_following(finapi)
    settings = settings_for(finapi, INTEGRATION="WEB_FORM", WEBFORM_BASE_URL=webform.base_url)
    users = InMemoryUserStore()
    gateway = webform_gateway(access_gateway(finapi, settings, clock, users), settings, clock)
    yield System(finapi, clock, settings, gateway, users, callback_base_url=receiver.base_url)
    finapi.world.clear_faults()


def task_of(webform: WebFormServer, record: UpdateRecord) -> Any:
    assert record.upstream_ref is not None, "the update has no Web Form 2.0 task"
    return webform.engine.tasks[record.upstream_ref]


def reaches(webform: WebFormServer, record: UpdateRecord, *statuses: str) -> None:
    """Wait (bounded) until finAPI's task has one of ``statuses`` (the simulator moves tasks on its own thread)."""
    task = task_of(webform, record)
    assert webform.wait_until(lambda: task.status in statuses), f"the task is still {task.status}"


def callback_tokens(receiver: Receiver, record: UpdateRecord, kind: str) -> list[str]:
    """The tokens of the callbacks finAPI sent for this update's task (``finalised`` or ``web-form-required``)."""
    tokens = []
    for post in receiver.posts():
        match = CALLBACK.match(post.path)
        if match and match["kind"] == kind and post.body and post.body.get("taskId") == record.upstream_ref:
            tokens.append(match["token"])
    return tokens


def wait_for_callback(receiver: Receiver, record: UpdateRecord, kind: str) -> str:
    receiver.wait_for(lambda _: bool(callback_tokens(receiver, record, kind)))
    (token, *_) = callback_tokens(receiver, record, kind)
    return token


def calls_back(system: System, receiver: Receiver, record: UpdateRecord, kind: str) -> str:
    """finAPI's callback of ``kind`` reaches our callback function, and the looks due by now run (the clock stays)."""
    token = wait_for_callback(receiver, record, kind)
    system.webform_callback()(token)
    system.deliver_due_looks()
    return token


def started(system: System, **connection: Any) -> tuple[BankUser, UpdateRecord]:
    """A user-present Web Form 2.0 update, created at finAPI and handed to its workflow (its looks on the timer)."""
    user = system.new_user(**connection)
    record = system.trigger(user)
    system.supervise(record.update_id)
    return user, system.record(record.update_id)


def fill_in(web_form_url: str, action: Callable[[PageDriver, str], None]) -> None:
    form_id = web_form_url.rsplit("/", 1)[1]
    action(PageDriver(web_form_url), f"/wf/{form_id}")


def complete(driver: PageDriver, form: str) -> None:
    driver.post(f"{form}/credentials", userId="demo", pin="demo")
    driver.post(f"{form}/procedure", procedureId="901")
    driver.post(f"{form}/challenge", challengeResponse="123456")


def abort(driver: PageDriver, form: str) -> None:
    driver.post(f"{form}/abort")


def test_an_update_finapi_completes_without_the_user_succeeds_on_its_callback(
    system: System, webform: WebFormServer, receiver: Receiver
) -> None:
    # Given a background update task for a connection finAPI can update alone
    # (downloads last longer than finAPI's 1 s between reads of a task: the simulator's clock is the wall's)
    _, record = started(system, download_seconds=1.5)
    assert record.status is UpdateStatus.IN_PROGRESS and record.upstream_ref is not None
    # When the task completes and finAPI calls back
    system.clock.advance(1)
    reaches(webform, record, "COMPLETED")
    token = calls_back(system, receiver, record, "finalised")
    # Then the one look the callback asked for finishes the update, before the fallback look was due
    done = system.record(record.update_id)
    assert done.status is UpdateStatus.SUCCEEDED and done.result is not None and len(done.result.accounts) == 2
    # And the fallback look and a repeated callback change nothing
    system.webform_callback()(token)
    system.deliver_looks()
    assert system.record(record.update_id) == done
    assert len(system.events.of_type(UpdateSucceeded)) == 1
    assert webform.engine.poll_violations == []


def test_a_token_finapi_no_longer_takes_is_replaced_and_the_update_goes_on(
    system: System, webform: WebFormServer, receiver: Receiver
) -> None:
    # Given a background update task finAPI completes alone
    _, record = started(system, download_seconds=1.5)
    system.clock.advance(1)
    reaches(webform, record, "COMPLETED")
    # ... and the user's access token, cached since the task was created, revoked by finAPI meanwhile
    system.sandbox.world.expire_tokens()
    # When finAPI calls back and the update is looked at (Web Form 2.0 answers 401 to the old token)
    calls_back(system, receiver, record, "finalised")
    # Then the look dropped the token, took a new one and finished the update
    done = system.record(record.update_id)
    assert done.status is UpdateStatus.SUCCEEDED, done.error
    assert webform.engine.poll_violations == []


def test_a_new_task_goes_out_with_a_new_token_when_finapi_refuses_the_cached_one(
    system: System, webform: WebFormServer
) -> None:
    # Given a user with two connections whose access token is cached (the first one's update created its task) and
    # then revoked by finAPI
    user = system.new_user("DEMO0001", "DEMO0001", download_seconds=1.5)
    first, second = user.connections
    assert system.trigger(user, connection_id=first).upstream_ref is not None
    system.connections.record_facts(user.owner_id, ConnectionFacts(second, (), None, False), system.clock.port.now())
    tasks = len(webform.engine.tasks)
    system.sandbox.world.expire_tokens()
    # When the user updates the other connection and Web Form 2.0 answers 401 to the old token
    again = system.trigger(user, connection_id=second)
    # Then the task was created once, with a new token
    assert again.status is UpdateStatus.IN_PROGRESS and again.upstream_ref is not None, again.error
    assert len(webform.engine.tasks) == tasks + 1


def test_a_present_user_without_an_ip_address_gets_a_complete_task_counted_as_unattended(
    system: System, webform: WebFormServer
) -> None:
    # Given a present user whose request carries no usable IP address (their device and browser are known)
    user = system.new_user(download_seconds=1.5)
    request = replace(system.request(user), psu=APP_PSU.model_copy(update={"ip_address": None}))
    # When they sync
    started = system.trigger_update()(request)
    # Then finAPI got a task it takes: without userMetadata, rather than one missing the ipAddress its spec requires
    assert started.status is UpdateStatus.IN_PROGRESS, started.error
    assert task_of(webform, started).details.userMetadata is None
    # And the update says the bank counts it as unattended, as the connection's budget of the day does
    assert started.counted_as_unattended
    connection = system.connections.get(user.owner_id, user.connection)
    assert connection is not None and system.settings.budget.used(connection.unattended, system.clock.now()) == 1


def test_a_present_user_with_an_ip_address_is_sent_whole(system: System, webform: WebFormServer) -> None:
    user = system.new_user(download_seconds=1.5)
    started = system.trigger(user)
    metadata = task_of(webform, started).details.userMetadata
    assert metadata is not None and (metadata.ipAddress, metadata.deviceOs) == (APP_PSU.ip_address, APP_PSU.device_os)
    assert not started.counted_as_unattended


def test_a_bank_that_needs_the_user_shows_the_web_form_and_goes_on_once_it_is_completed(
    system: System, webform: WebFormServer, receiver: Receiver
) -> None:
    # Given a connection whose consent is gone
    _, record = started(system, consent_expires_at=None, download_seconds=1.5)
    # When finAPI's task asks for the web form and calls back
    reaches(webform, record, "WEB_FORM_REQUIRED")
    calls_back(system, receiver, record, "web-form-required")
    # Then the update waits for the user with the form's address, and the app is told where to send them
    waiting = system.record(record.update_id)
    assert waiting.status is UpdateStatus.AUTHENTICATION_REQUIRED and waiting.challenge is not None
    assert waiting.challenge.status is ChallengeStatus.WEB_FORM_REQUIRED and waiting.challenge.web_form_url
    (asked,) = system.events.of_type(AuthenticationRequested)
    assert asked.action_url == waiting.challenge.web_form_url
    # When the user completes the form (credentials, procedure, TAN) and the download finishes
    fill_in(waiting.challenge.web_form_url, complete)
    system.clock.advance(1)
    reaches(webform, record, "COMPLETED")
    system.webform_callback()(wait_for_callback(receiver, record, "finalised"))
    system.deliver_looks()
    # Then the update succeeded
    assert system.record(record.update_id).status is UpdateStatus.SUCCEEDED
    assert webform.engine.poll_violations == []


def test_a_download_the_user_started_in_the_form_may_outlast_the_forms_expiry(
    system: System, webform: WebFormServer
) -> None:
    # Given an update waiting in finAPI's web form, which the user completes late, for a ten-minute download
    _, record = started(system, consent_expires_at=None, download_seconds=600)
    reaches(webform, record, "WEB_FORM_REQUIRED")
    system.deliver_looks_until(lambda r: r.status is UpdateStatus.AUTHENTICATION_REQUIRED, record.update_id)
    waiting = system.record(record.update_id)
    assert waiting.challenge is not None and waiting.challenge.web_form_url
    system.clock.advance(900)
    fill_in(waiting.challenge.web_form_url, complete)
    # When the looks go on while finAPI downloads (past the form's twenty minutes)
    system.deliver_looks()
    # Then the update succeeded, as finAPI's task does
    assert system.record(record.update_id).status is UpdateStatus.SUCCEEDED


def test_a_web_form_the_user_cancels_fails_the_update(system: System, webform: WebFormServer) -> None:
    _, record = started(system, consent_expires_at=None)
    reaches(webform, record, "WEB_FORM_REQUIRED")
    system.deliver_looks_until(lambda r: r.status is UpdateStatus.AUTHENTICATION_REQUIRED, record.update_id)
    waiting = system.record(record.update_id)
    assert waiting.challenge is not None and waiting.challenge.web_form_url
    # When the user cancels the form
    fill_in(waiting.challenge.web_form_url, abort)
    reaches(webform, record, "COMPLETED_WITH_ERROR")
    system.deliver_looks()
    # Then the update failed as cancelled by the user
    failed = system.record(record.update_id)
    assert failed.status is UpdateStatus.FAILED and failed.error is not None and failed.error.code == "WEB_FORM_ABORTED"


def test_a_web_form_nobody_completes_expires_the_update(system: System, webform: WebFormServer) -> None:
    # Given an update waiting in finAPI's web form
    _, record = started(system, consent_expires_at=None)
    reaches(webform, record, "WEB_FORM_REQUIRED")
    system.deliver_looks_until(lambda r: r.status is UpdateStatus.AUTHENTICATION_REQUIRED, record.update_id)
    # When nobody opens it, for longer than finAPI keeps it
    system.deliver_looks()
    # Then the update expired, and the workflow heard from the looks all along (it never gave up on its own)
    expired = system.record(record.update_id)
    assert expired.status is UpdateStatus.EXPIRED and expired.error is not None
    assert expired.error.code == "AUTHENTICATION_EXPIRED"
    assert system.workflow.releases[-1][1].status is UpdateStatus.EXPIRED


def test_a_callback_with_an_unknown_token_is_not_found_and_does_nothing(system: System) -> None:
    with pytest.raises(NotFound):
        system.webform_callback()("no-such-token")
    assert system.timer.scheduled == []


def test_a_scheduled_update_is_noticed_by_its_callback_like_a_user_present_one(
    system: System, webform: WebFormServer, receiver: Receiver
) -> None:
    # Given a scheduled update whose task finAPI runs alone (no user at hand)
    user = opted_in(system, download_seconds=0.5, stored_pin=True)
    update_id = started_unattended(system, user)
    system.supervise(update_id)
    record = system.record(update_id)
    assert record.status is UpdateStatus.IN_PROGRESS and record.upstream_ref is not None
    # When the task completes
    system.clock.advance(1)
    reaches(webform, record, "COMPLETED")
    # Then finAPI calls back (the task was created with our callback URLs), and that callback's one look ends the
    # update before the slow fallback look is due
    calls_back(system, receiver, record, "finalised")
    assert system.record(update_id).status is UpdateStatus.SUCCEEDED


def test_the_supervising_task_leaves_a_new_task_to_its_callbacks_and_parks_only_the_fallback_look(
    system: System, webform: WebFormServer
) -> None:
    # Given a user-present Web Form 2.0 update whose task finAPI just created
    user = system.new_user(download_seconds=30)
    record = system.trigger(user)
    # When the workflow's supervising task takes it over
    system.supervise(record.update_id)
    # Then it does not ask finAPI about the task (finAPI calls back when it needs the user or is done; asking now
    # would only fetch the user's finAPI token for nothing), and the fallback look waits on the timer
    polls = [path for (_, path) in webform.engine._last_poll if record.upstream_ref and record.upstream_ref in path]
    assert polls == []
    (fallback,) = [h for h in system.timer.scheduled if h.message.update_id == record.update_id]
    assert fallback.delay_seconds == system.settings.webform_fallback_min_gap_seconds
