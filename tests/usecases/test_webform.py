"""Web Form 2.0 deployments: the background update task at finAPI, its web form when the bank needs the user, and
finAPI's callbacks, which only say "poll again": a callback resumes the workflow's wait for the user (AwaitUser) or
for finAPI (AwaitCallback), and nothing else. finAPI is the sandbox with its Web Form 2.0 simulator (which moves its
tasks on its own thread, by the sandbox's clock: the test's clock); the user fills the form over HTTP as a browser
would. The simulator records any two reads of one task or form closer than finAPI's one second."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

import pytest

from bankupdate.contract import HandBack, PollNext, WaitingTask
from bankupdate.domain import lifecycle
from bankupdate.domain.errors import NotFound
from bankupdate.domain.events import AuthenticationRequested, ConnectionNeedsUser, UpdateSucceeded
from bankupdate.domain.model import ChallengeStatus, UpdateRecord, UpdateStatus
from bankupdate.domain.upstream import ConnectionFacts
from bankupdate.finapi.access_gateway import AccessGateway
from bankupdate.finapi.webform_client import WebFormClient
from bankupdate.finapi.webform_gateway import WebFormGateway
from bankupdate.settings import Settings
from finapi_sandbox import SandboxServer
from finapi_sandbox.webform import WebFormConfig, WebFormServer
from tests.fakes import InMemoryUserStore
from tests.support.webform import PageDriver, Receiver, running_receiver
from tests.usecases.conftest import clock_following
from tests.usecases.polling import ExpressLoop, every_poll, new_loop, output_of, states_of
from tests.usecases.scheduled import opted_in, started_unattended
from tests.usecases.system import APP_PSU, BankUser, System, access_gateway, settings_for

CALLBACK = re.compile(r"^/v1/webform-callbacks/(?P<token>[^/]+)/(?P<kind>finalised|web-form-required)$")
FINAL = ("COMPLETED", "COMPLETED_WITH_ERROR")


@pytest.fixture(scope="module")
def webform(finapi: SandboxServer) -> Iterator[WebFormServer]:
    server = WebFormServer(finapi, WebFormConfig(allow_http_loopback_urls=True, decoupled_poll_seconds=0)).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    with running_receiver() as running:
        yield running


SystemMaker = Callable[..., System]


def unpaced_gateway(access: AccessGateway, settings: Settings) -> WebFormGateway:
    """The Web Form 2.0 gateway, its client's own pacing of reads switched off: that pacing measures real time (which
    barely moves here) and would sleep on the suite's clock, ever longer. Then the simulator's record of reads closer
    than a second (``poll_violations``) checks the workflow's own gaps, which must keep finAPI's second."""
    webform = WebFormClient(
        base_url=settings.webform_base_url,
        user_token=lambda owner_id: access.client.user_token(access.principal(owner_id)),
        forget_user_token=lambda owner_id: access.client.forget_user_token(access.principal(owner_id)),
        timeout_seconds=settings.finapi_timeout_seconds,
        sleep=lambda _: None,
    )
    return WebFormGateway(webform, access)


@pytest.fixture
def webform_system(finapi: SandboxServer, webform: WebFormServer, receiver: Receiver) -> Iterator[SystemMaker]:
    """A system in Web Form 2.0 mode, with these settings changed."""

    def make(**environment: str) -> System:
        clock = clock_following(finapi)
        env = {"INTEGRATION": "WEB_FORM", "WEBFORM_BASE_URL": webform.base_url} | environment
        settings = settings_for(finapi, **env)
        users = InMemoryUserStore()
        gateway = unpaced_gateway(access_gateway(finapi, settings, clock, users), settings)
        return System(finapi, clock, settings, gateway, users, callback_base_url=receiver.base_url)

    violations = len(webform.engine.poll_violations)
    yield make
    finapi.world.clear_faults()
    # Whatever a test did, no task or web form was read twice within a second
    assert webform.engine.poll_violations[violations:] == []


@pytest.fixture
def system(webform_system: SystemMaker) -> System:
    return webform_system()


@pytest.fixture
def long_waits(webform_system: SystemMaker) -> System:
    """Gaps longer than 3 s are waited for finAPI's callback (from about 25 s into a download)."""
    return webform_system(POLL_HAND_OVER_GAP_SECONDS="3")


# --------------------------------------------------------------------------------------------- the simulator


def task_of(webform: WebFormServer, record: UpdateRecord) -> Any:
    assert record.upstream_ref is not None, "the update has no Web Form 2.0 task"
    return webform.engine.tasks[record.upstream_ref]


def reaches(webform: WebFormServer, record: UpdateRecord, *statuses: str) -> None:
    """Wait (bounded, real time) until finAPI's task has one of ``statuses``."""
    task = task_of(webform, record)
    assert webform.wait_until(lambda: task.status in statuses), f"the task is still {task.status}"


def under_way(system: System, webform: WebFormServer, record: UpdateRecord) -> None:
    """finAPI's task leaves NOT_YET_STARTED (a moment after its creation): it downloads, or waits for its web form."""
    system.clock.advance(1)
    task = task_of(webform, record)
    assert webform.wait_until(lambda: task.downloading or task.status in ("WEB_FORM_REQUIRED", *FINAL))


def download_ends(system: System, webform: WebFormServer, record: UpdateRecord, seconds: float) -> None:
    """The download finAPI's task runs reaches its end (the sandbox's clock moves ``seconds``)."""
    system.clock.advance(seconds)
    reaches(webform, record, *FINAL)


def download_ends_by(system: System, webform: WebFormServer, record: UpdateRecord, moment: datetime) -> None:
    """The download finAPI's task runs reaches its end by ``moment`` (the sandbox's clock moves there)."""
    system.clock.advance_to(moment)
    reaches(webform, record, *FINAL)


def task_reads(webform: WebFormServer, record: UpdateRecord) -> int:
    return sum(n for path, n in webform.engine.reads.items() if record.upstream_ref and record.upstream_ref in path)


def callback_tokens(receiver: Receiver, record: UpdateRecord, kind: str) -> list[str]:
    """The tokens of the callbacks finAPI sent for this update's task (``finalised`` or ``web-form-required``)."""
    tokens = []
    for post in receiver.posts():
        match = CALLBACK.match(post.path)
        if match and match["kind"] == kind and post.body and post.body.get("taskId") == record.upstream_ref:
            tokens.append(match["token"])
    return tokens


def callback_of(receiver: Receiver, record: UpdateRecord, kind: str) -> str:
    """The token of finAPI's callback of ``kind`` for the update (waiting, bounded, until it is sent)."""
    receiver.wait_for(lambda _: bool(callback_tokens(receiver, record, kind)))
    (token, *_) = callback_tokens(receiver, record, kind)
    return token


def calls_back(system: System, token: str) -> None:
    """The callback reaches our callback function."""
    system.use_cases.webform_callback()(token)


def fill_in(web_form_url: str, action: Callable[[PageDriver, str], None]) -> None:
    form_id = web_form_url.rsplit("/", 1)[1]
    action(PageDriver(web_form_url), f"/wf/{form_id}")


def complete(driver: PageDriver, form: str) -> None:
    driver.post(f"{form}/credentials", userId="demo", pin="demo")
    driver.post(f"{form}/procedure", procedureId="901")
    driver.post(f"{form}/challenge", challengeResponse="123456")


def abort(driver: PageDriver, form: str) -> None:
    driver.post(f"{form}/abort")


def started(system: System, **connection: Any) -> tuple[BankUser, UpdateRecord]:
    """A user-present update, created at finAPI as a background update task; its workflow has not polled yet."""
    user = system.new_user(**connection)
    record = system.trigger(user)
    assert record.status is UpdateStatus.IN_PROGRESS and record.upstream_ref is not None
    return user, record


def waiting_in_the_web_form(system: System, webform: WebFormServer) -> tuple[BankUser, UpdateRecord]:
    """A user-present update whose bank needs the user: finAPI's task waits in its web form, the update shows the
    form, and the workflow waits for the user (AwaitUser)."""
    user, record = started(system, consent_expires_at=None, download_seconds=1.5)
    under_way(system, webform, record)
    reaches(webform, record, "WEB_FORM_REQUIRED")
    system.run(record.update_id)
    assert system.workflow.waiting(record.update_id) is WaitingTask.USER
    return user, system.record(record.update_id)


# --------------------------------------------------------------------------------------------- without the user


def test_an_update_finapi_completes_alone_is_finished_by_its_poll_loop_whatever_the_callback_says(
    system: System, webform: WebFormServer, receiver: Receiver
) -> None:
    # Given a background update task for a connection finAPI can update alone, downloading; its loop polled once
    _, record = started(system, download_seconds=3)
    under_way(system, webform, record)
    loop = ExpressLoop(system)
    state = loop.poll(new_loop(system, record.update_id))
    assert state.next is PollNext.POLL
    # When the download ends and finAPI's callback arrives while the loop runs its own short gaps
    download_ends(system, webform, record, 3)
    token = callback_of(receiver, record, "finalised")
    reads = task_reads(webform, record)
    calls_back(system, token)
    # Then the callback changed nothing: no wait of the workflow was resumed, and finAPI was not asked
    assert system.workflow.resumes == [] and system.workflow.waiting(record.update_id) is WaitingTask.POLL
    assert task_reads(webform, record) == reads
    # And the loop's next poll finishes the update
    assert loop.poll_on(state).next is PollNext.DONE
    done = system.record(record.update_id)
    assert done.status is UpdateStatus.SUCCEEDED and done.result is not None and len(done.result.accounts) == 2
    assert states_of(system, record.update_id) == ["Poll"]
    # And a repeated callback after the end changes nothing either
    calls_back(system, token)
    assert system.record(record.update_id) == done and len(system.events.of_type(UpdateSucceeded)) == 1
    assert system.workflow.resumes == [] and task_reads(webform, record) == reads + 1


def test_a_callback_with_an_unknown_token_is_not_found_and_does_nothing(system: System) -> None:
    calls = len(system.sandbox.world.calls)
    with pytest.raises(NotFound):
        system.use_cases.webform_callback()("no-such-token")
    assert system.workflow.resumes == [] and len(system.sandbox.world.calls) == calls


def test_a_token_finapi_no_longer_takes_is_replaced_and_the_update_goes_on(
    system: System, webform: WebFormServer, receiver: Receiver
) -> None:
    # Given a background update task finAPI completes alone
    _, record = started(system, download_seconds=1.5)
    under_way(system, webform, record)
    download_ends(system, webform, record, 2)
    # ... and the user's access token, cached since the task was created, revoked by finAPI meanwhile
    system.sandbox.world.expire_tokens()
    # When the workflow polls (Web Form 2.0 answers 401 to the old token)
    system.run(record.update_id)
    # Then the poll dropped the token, took a new one and finished the update
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
    started = system.use_cases.trigger_update()(request)
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


def test_a_callback_before_the_workflow_waits_on_anything_changes_nothing(
    system: System, webform: WebFormServer, receiver: Receiver
) -> None:
    # Given an update whose task asks for the web form before the workflow's loop has polled at all
    _, record = started(system, consent_expires_at=None)
    under_way(system, webform, record)
    reaches(webform, record, "WEB_FORM_REQUIRED")
    # When finAPI's webFormRequired callback arrives
    calls_back(system, callback_of(receiver, record, "web-form-required"))
    # Then nothing was resumed or asked; the update waits for its workflow's first poll
    assert system.workflow.resumes == [] and task_reads(webform, record) == 0
    assert system.record(record.update_id).status is UpdateStatus.IN_PROGRESS


# --------------------------------------------------------------------------------------------- with the user


def test_a_bank_that_needs_the_user_shows_the_web_form_and_the_callback_ends_the_wait_once_it_is_completed(
    system: System, webform: WebFormServer, receiver: Receiver
) -> None:
    # Given a connection whose consent is gone: finAPI's task asks for its web form
    _, record = started(system, consent_expires_at=None, download_seconds=1.5)
    under_way(system, webform, record)
    reaches(webform, record, "WEB_FORM_REQUIRED")
    # When the workflow polls
    assert system.run(record.update_id) == 1
    # Then the update waits for the user with the form's address, the app is told where to send them, and the
    # workflow waits for the user (the loop handed back at once)
    waiting = system.record(record.update_id)
    assert waiting.status is UpdateStatus.AUTHENTICATION_REQUIRED and waiting.challenge is not None
    assert waiting.challenge.status is ChallengeStatus.WEB_FORM_REQUIRED and waiting.challenge.web_form_url
    (asked,) = system.events.of_type(AuthenticationRequested)
    assert asked.action_url == waiting.challenge.web_form_url
    assert [r for r, _ in system.workflow.executions[record.update_id].hand_backs] == [HandBack.USER_NEEDED]
    user_wait = system.workflow.task_of(record.update_id)
    assert (user_wait.state, user_wait.parked) == ("AwaitUser", True)
    # When the user completes the form (credentials, procedure, TAN), the download finishes and finAPI calls back
    fill_in(waiting.challenge.web_form_url, complete)
    download_ends(system, webform, record, 2)
    calls_back(system, callback_of(receiver, record, "finalised"))
    # Then the callback ended the wait for the user, and the one poll after it finished the update
    assert system.workflow.resumes == [user_wait.token]
    assert system.run(record.update_id) == 1
    assert system.record(record.update_id).status is UpdateStatus.SUCCEEDED
    assert states_of(system, record.update_id) == ["Poll", "AwaitUser", "Poll"]
    assert output_of(system, record.update_id).status is UpdateStatus.SUCCEEDED


def test_a_flood_of_callbacks_costs_at_most_one_poll_per_wait(
    system: System, webform: WebFormServer, receiver: Receiver
) -> None:
    # Given an update waiting for its user in finAPI's web form
    _, waiting = waiting_in_the_web_form(system, webform)
    form_required = callback_of(receiver, waiting, "web-form-required")
    reads = task_reads(webform, waiting)
    # When finAPI's webFormRequired callback comes five times (while the user has not done anything)
    for _ in range(5):
        calls_back(system, form_required)
    # Then the first ended the wait; the others found it over: one poll, which finds the form still open and hands
    # the update back to its user
    assert len(system.workflow.resumes) == 1
    assert system.run(waiting.update_id) == 1 and task_reads(webform, waiting) == reads + 1
    assert system.workflow.waiting(waiting.update_id) is WaitingTask.USER
    # When the user completes the form and finAPI's finalised callback comes five times
    assert waiting.challenge is not None and waiting.challenge.web_form_url
    fill_in(waiting.challenge.web_form_url, complete)
    download_ends(system, webform, waiting, 2)
    finalised = callback_of(receiver, waiting, "finalised")
    for _ in range(5):
        calls_back(system, finalised)
    # Then again one wait ended and one poll finished the update
    assert len(system.workflow.resumes) == 2
    assert system.run(waiting.update_id) == 1
    assert system.record(waiting.update_id).status is UpdateStatus.SUCCEEDED


def test_a_callback_right_after_a_poll_brings_the_next_poll_no_closer_than_a_second(
    system: System, webform: WebFormServer, receiver: Receiver
) -> None:
    # Given an update whose poll has just handed it to its user
    _, waiting = waiting_in_the_web_form(system, webform)
    # When a callback ends that wait at once (no time passed)
    calls_back(system, callback_of(receiver, waiting, "web-form-required"))
    system.run(waiting.update_id)
    # Then the next poll came a second after the last (the new loop's first Wait), as finAPI asks
    first, second = every_poll(system, waiting.update_id)
    assert (second.at - first.at).total_seconds() == 1
    assert webform.engine.poll_violations == []


def test_a_lost_callback_after_the_web_form_is_made_up_for_by_the_wait_for_the_users_fallback_poll(
    system: System, webform: WebFormServer
) -> None:
    # Given an update waiting for its user, who completes the form; finAPI's callback is lost
    _, waiting = waiting_in_the_web_form(system, webform)
    user_wait = system.workflow.task_of(waiting.update_id)
    assert waiting.challenge is not None and waiting.challenge.web_form_url
    fill_in(waiting.challenge.web_form_url, complete)
    download_ends(system, webform, waiting, 2)
    # When the wait for the user runs into its timeout (the fallback for a lost callback)
    assert user_wait.ends_at is not None
    assert (user_wait.ends_at - user_wait.entered_at).total_seconds() == system.settings.webform_user_fallback_seconds
    system.wait_runs_out(waiting.update_id)
    # Then the poll after it found the form completed and the download done: the update succeeded
    assert system.record(waiting.update_id).status is UpdateStatus.SUCCEEDED
    assert system.workflow.resumes == []
    assert states_of(system, waiting.update_id) == ["Poll", "AwaitUser", "Poll"]


def three_wrong_tans(driver: PageDriver, form: str) -> None:
    driver.post(f"{form}/credentials", userId="demo", pin="demo")
    driver.post(f"{form}/procedure", procedureId="901")
    for _ in range(3):
        driver.post(f"{form}/challenge", challengeResponse="000000")


def test_a_bank_that_ends_the_login_in_the_form_is_quoted_in_the_update(
    system: System, webform: WebFormServer, receiver: Receiver
) -> None:
    # Given an update waiting for its user in finAPI's web form
    _, waiting = waiting_in_the_web_form(system, webform)
    assert waiting.challenge is not None and waiting.challenge.web_form_url
    # When the user types a wrong TAN until the bank ends the login (finAPI's task then says only
    # BANK_SERVER_REJECTION) and finAPI calls back
    fill_in(waiting.challenge.web_form_url, three_wrong_tans)
    reaches(webform, waiting, "COMPLETED_WITH_ERROR")
    calls_back(system, callback_of(receiver, waiting, "finalised"))
    system.run(waiting.update_id)
    # Then the update failed with the bank's own words, as in Access mode, not a guess about the credentials
    failed = system.record(waiting.update_id)
    assert failed.status is UpdateStatus.FAILED and failed.error is not None
    assert failed.error.code == "BANK_REJECTED"
    assert failed.error.user_message == "Die TAN war mehrfach falsch. Der Vorgang wurde abgebrochen."


HOSTILE_FORM = "javascript:alert(document.domain)//{id}"


@pytest.fixture
def hostile(finapi: SandboxServer, receiver: Receiver) -> Iterator[tuple[System, WebFormServer]]:
    """A Web Form 2.0 deployment whose finAPI names its web forms by a ``javascript:`` URL."""
    config = WebFormConfig(allow_http_loopback_urls=True, decoupled_poll_seconds=0, web_form_url=HOSTILE_FORM)
    server = WebFormServer(finapi, config).start()
    clock = clock_following(finapi)
    settings = settings_for(finapi, INTEGRATION="WEB_FORM", WEBFORM_BASE_URL=server.base_url)
    users = InMemoryUserStore()
    gateway = unpaced_gateway(access_gateway(finapi, settings, clock, users), settings)
    yield System(finapi, clock, settings, gateway, users, callback_base_url=receiver.base_url), server
    server.stop()
    finapi.world.clear_faults()


def test_a_web_form_address_that_is_no_https_link_never_reaches_the_user(
    hostile: tuple[System, WebFormServer],
) -> None:
    system, webform = hostile
    # Given finAPI asks for its web form, under a javascript: address
    _, record = started(system, consent_expires_at=None, download_seconds=1.5)
    under_way(system, webform, record)
    reaches(webform, record, "WEB_FORM_REQUIRED")
    system.run(record.update_id)
    # Then the update waits for the user without the address: no record, event or answer carries it as a link
    waiting = system.record(record.update_id)
    assert waiting.challenge is not None and waiting.challenge.status is ChallengeStatus.WEB_FORM_REQUIRED
    assert waiting.challenge.web_form_url is None
    (asked,) = system.events.of_type(AuthenticationRequested)
    assert asked.action_url is None
    # When the form fails at the bank (the user reached it some other way) and the update ends at the next poll
    form_id = task_of(webform, record).web_form.id
    fill_in(f"{webform.base_url}/wf/{form_id}", three_wrong_tans)
    reaches(webform, record, "COMPLETED_WITH_ERROR")
    system.wait_runs_out(record.update_id)
    # Then the failure offers no link to the failed form either
    failed = system.record(record.update_id)
    assert failed.error is not None and failed.error.code == "BANK_REJECTED" and failed.error.action_url is None
    assert "javascript:" not in failed.model_dump_json()


def test_a_web_form_nobody_completes_is_polled_at_each_fallback_and_expires_with_the_answer_window(
    system: System, webform: WebFormServer
) -> None:
    # Given an update waiting for its user in finAPI's web form, no callback coming
    _, waiting = waiting_in_the_web_form(system, webform)
    assert waiting.auth_window_ends_at is not None
    # When each wait for the user runs into its timeout, until the update ends
    for _ in range(50):
        if not system.workflow.is_open(waiting.update_id):
            break
        system.wait_runs_out(waiting.update_id)
    # Then each fallback poll found the form still open and handed the update back to its user, until the answer
    # window closed: the update expired
    expired = system.record(waiting.update_id)
    assert expired.status is UpdateStatus.EXPIRED and expired.error is not None
    assert expired.error.code == "AUTHENTICATION_EXPIRED"
    assert expired.updated_at >= waiting.auth_window_ends_at
    assert output_of(system, waiting.update_id).status is UpdateStatus.EXPIRED
    hand_backs = system.workflow.executions[waiting.update_id].hand_backs
    window = system.settings.auth_window_seconds
    assert len(hand_backs) >= window // (system.settings.webform_user_fallback_seconds + 1)
    assert {reason for reason, _ in hand_backs} == {HandBack.USER_NEEDED}


def test_a_web_form_the_user_cancels_fails_the_update(
    system: System, webform: WebFormServer, receiver: Receiver
) -> None:
    # Given an update waiting for its user in finAPI's web form
    _, waiting = waiting_in_the_web_form(system, webform)
    assert waiting.challenge is not None and waiting.challenge.web_form_url
    # When the user cancels the form and finAPI calls back
    fill_in(waiting.challenge.web_form_url, abort)
    reaches(webform, waiting, "COMPLETED_WITH_ERROR")
    calls_back(system, callback_of(receiver, waiting, "finalised"))
    system.run(waiting.update_id)
    # Then the update failed as cancelled by the user
    failed = system.record(waiting.update_id)
    assert failed.status is UpdateStatus.FAILED and failed.error is not None and failed.error.code == "WEB_FORM_ABORTED"
    assert output_of(system, waiting.update_id).status is UpdateStatus.FAILED


def finish_or_wait(system: System, update_id: str, *, at_most: int = 60) -> None:
    """The workflow runs on without any callback: each wait (for the user, for a callback) runs into its timeout and
    polls, until the update's execution ends."""
    for _ in range(at_most):
        if not system.workflow.is_open(update_id):
            return
        system.wait_runs_out(update_id)
    raise AssertionError("the update never ended")


def test_a_download_the_user_started_in_the_form_may_outlast_the_answer_window(
    system: System, webform: WebFormServer
) -> None:
    # Given an update waiting in finAPI's web form, which the user completes well within the answer window, for a
    # ten-minute download (the form stays IN_PROGRESS at finAPI until the download ends)
    user = system.new_user(consent_expires_at=None, download_seconds=600)
    record = system.trigger(user)
    under_way(system, webform, record)
    reaches(webform, record, "WEB_FORM_REQUIRED")
    system.run(record.update_id)
    waiting = system.record(record.update_id)
    assert waiting.challenge is not None and waiting.challenge.web_form_url and waiting.auth_window_ends_at
    system.clock.advance(400)
    fill_in(waiting.challenge.web_form_url, complete)
    assert not lifecycle.window_closed(waiting, system.clock.now())
    # When the workflow polls on while finAPI downloads, past the end of the answer window (the callback is lost)
    finish_or_wait(system, record.update_id)
    # Then the update succeeded, as finAPI's task did
    assert system.record(record.update_id).status is UpdateStatus.SUCCEEDED
    assert task_of(webform, record).status == "COMPLETED"


# --------------------------------------------------------------------------------------------- long waits


def test_a_scheduled_update_waits_for_finapis_callback_which_ends_the_wait_early(
    long_waits: System, webform: WebFormServer, receiver: Receiver
) -> None:
    system = long_waits
    # Given a scheduled update whose task finAPI runs alone, downloading for 30 s
    user = opted_in(system, download_seconds=30, stored_pin=True)
    update_id = started_unattended(system, user)
    record = system.record(update_id)
    under_way(system, webform, record)
    download_end = system.clock.now() + timedelta(seconds=31)
    # When the workflow polls, until the gap outgrows the loop
    system.run(update_id)
    # Then the loop handed the update back to wait for finAPI's callback on a token parked on the update, the wait
    # bounded by the fallback gap (a share of the update's age: the poll for a lost callback)
    (reason, detail), *_ = system.workflow.executions[update_id].hand_backs
    assert reason is HandBack.AWAIT_CALLBACK and detail.polls[-1].wait_seconds == detail.wait_seconds
    fallback = system.settings.callback_fallback_schedule
    assert fallback is not None and detail.wait_seconds > 3
    elapsed = (detail.polls[-1].at - (record.triggered_at or record.created_at)).total_seconds()
    assert detail.wait_seconds >= round(fallback.gap_after(elapsed))
    callback_wait = system.workflow.task_of(update_id)
    stored = system.updates.get(update_id)
    assert stored is not None and (stored.task_token, stored.task_kind) == (callback_wait.token, WaitingTask.CALLBACK)
    assert states_of(system, update_id)[-3:] == ["Poll", "ReadCallbackWait", "AwaitCallback"]
    # When the download ends and finAPI calls back (the task was created with our callback URLs)
    assert callback_wait.ends_at is not None
    download_ends_by(system, webform, record, download_end)
    assert system.clock.now() < callback_wait.ends_at
    calls_back(system, callback_of(receiver, record, "finalised"))
    # Then the callback ended the wait before its timeout, and the one poll after it finished the update
    assert system.workflow.resumes == [callback_wait.token]
    assert system.run(update_id) == 1
    assert system.record(update_id).status is UpdateStatus.SUCCEEDED


def test_a_lost_finalised_callback_is_made_up_for_by_the_callback_waits_timeout(
    long_waits: System, webform: WebFormServer
) -> None:
    system = long_waits
    # Given a user-present update waiting for finAPI's callback, whose download then ends; the callback is lost
    _, record = started(system, download_seconds=30)
    under_way(system, webform, record)
    download_end = system.clock.now() + timedelta(seconds=31)
    system.run(record.update_id)
    assert system.workflow.waiting(record.update_id) is WaitingTask.CALLBACK
    download_ends_by(system, webform, record, download_end)
    # When the wait runs into its timeout
    system.wait_runs_out(record.update_id)
    # Then the poll after it found the task completed
    assert system.record(record.update_id).status is UpdateStatus.SUCCEEDED
    assert system.workflow.resumes == []


def test_a_scheduled_update_whose_bank_needs_the_user_fails_with_the_forms_address(
    system: System, webform: WebFormServer
) -> None:
    # Given a scheduled update whose bank needs the user (no consent): finAPI's task asks for its web form
    user = opted_in(system, consent_expires_at=None)
    update_id = started_unattended(system, user)
    record = system.record(update_id)
    under_way(system, webform, record)
    reaches(webform, record, "WEB_FORM_REQUIRED")
    # When the workflow polls
    system.run(update_id)
    # Then the update needs the user (nobody is there to fill the form): it failed, naming where the user can act
    failed = system.record(update_id)
    assert failed.status is UpdateStatus.FAILED and failed.error is not None
    assert failed.error.code == "USER_ACTION_REQUIRED"
    assert failed.error.action_url == task_of(webform, record).web_form.url
    (needs_user,) = system.events.of_type(ConnectionNeedsUser)
    assert needs_user.action_url == failed.error.action_url
    assert output_of(system, update_id).status is UpdateStatus.FAILED and states_of(system, update_id) == ["Poll"]


def test_a_task_that_never_ends_times_out_at_the_updates_deadline(webform_system: SystemMaker) -> None:
    # Given a deadline of two minutes, long waits for finAPI's callback, and a download that never ends
    system = webform_system(UPDATE_DEADLINE_SECONDS="120", POLL_HAND_OVER_GAP_SECONDS="5")
    _, record = started(system, download_seconds=10_000)
    # When the workflow polls, each wait for the callback running into its timeout (no callback comes)
    system.run(record.update_id)
    finish_or_wait(system, record.update_id)
    # Then the update timed out at its deadline, as in Access mode
    failed = system.record(record.update_id)
    assert failed.error is not None and failed.error.code == "TIMED_OUT" and failed.deadline_at is not None
    assert failed.updated_at <= failed.deadline_at + timedelta(seconds=1)
