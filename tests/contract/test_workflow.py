"""Workflow: the Step Functions adapter on moto (executing the deployed ASL, with each task that waits on a token
handing its token to an SQS queue instead of to our functions) and the fake the use-case suite runs on, held to the
same behaviour: the Poll task, the waits it hands back to, their signs of life, releases and resumes."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.awsrequest import AWSResponse
from moto import mock_aws

from bankupdate.contract import HandBack, HandBackDetail, WaitingTask, WorkflowInput, WorkflowOutput
from bankupdate.domain.errors import AwsThrottled
from bankupdate.domain.model import UpdateStatus
from bankupdate.ports import ExecutionState, Workflow
from local_stack.fidelity import heartbeat_timeouts_named_as_aws, task_tokens_found_while_executions_start
from local_stack.quota_table import Refusal
from local_stack.stepfunctions import patches as sfn_patches
from local_stack.throttling import refusal_response
from tests.conftest import ROOT
from tests.contract.conftest import REGION
from tests.fakes import FakeWorkflow, ManualClock

UPDATE_A, UPDATE_B = "a" * 32, "b" * 32
WAIT_SECONDS = 15.0  # a bound on moto's execution threads, never a measured time


def _input(update_id: str, timeout_seconds: int = 600) -> WorkflowInput:
    return WorkflowInput(
        update_id=update_id,
        timeout_seconds=timeout_seconds,
        heartbeat_seconds=300,
        poll_heartbeat_seconds=300,
        await_user_seconds=600,
        poll_cool_down_seconds=20,
    )


def _detail(update_id: str, wait_seconds: int = 1) -> HandBackDetail:
    return HandBackDetail(update_id=update_id, wait_seconds=wait_seconds)


def _eventually(condition: Callable[[], Any]) -> Any:
    deadline = time.monotonic() + WAIT_SECONDS
    while not (found := condition()):
        assert time.monotonic() < deadline, "moto's execution did not get there"
        time.sleep(0.02)
    return found


@dataclass
class WorkflowUnderTest:
    port: Workflow
    token: Callable[[str, WaitingTask], str]  # the token Step Functions hands the task now waiting, of this kind
    wait_passes: Callable[[str], None]  # a Wait state's (or a wait's timeout) time goes by
    fail: Callable[[str], None]  # the execution ends badly (its task timed out, then Finalize failed)


def _on_queue(queue_url: str, purpose: str, token_path: str = "$$.Task.Token") -> dict[str, Any]:
    return {
        "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
        "Parameters": {
            "QueueUrl": queue_url,
            "MessageBody": {"updateId.$": "$.updateId", "taskToken.$": token_path, "purpose": purpose},
        },
    }


def _deployed_asl(queue_url: str, poll_loop_arn: str) -> str:
    """The deployed definition; its waits send their tokens to SQS instead of invoking our functions (which are not
    here), and Finalize fails at once instead of after its retries (so a failed workflow ends within a test)."""
    text = (ROOT / "statemachines" / "update_connection.asl.json").read_text()
    text = text.replace("${Partition}", "aws").replace("${PollLoopStateMachineArn}", poll_loop_arn)
    asl = json.loads(text)
    states = asl["States"]
    assert states["Poll"]["Resource"] == "arn:aws:states:::states:startExecution.waitForTaskToken"
    for name, purpose in (("AwaitUser", "USER"), ("AwaitCallback", "CALLBACK")):
        assert states[name]["Resource"] == "arn:aws:states:::lambda:invoke.waitForTaskToken"
        states[name] |= _on_queue(queue_url, purpose)
    finalize = states["Finalize"]
    finalize["Resource"] = "arn:aws:states:::sqs:sendMessage"
    finalize["Parameters"] = {"QueueUrl": queue_url + "-missing", "MessageBody.$": "$.updateId"}
    del finalize["Retry"], finalize["ResultSelector"]
    return json.dumps(asl)


def _poll_loop(queue_url: str) -> str:
    """A poll loop that only hands the Poll task's token on (the real loop's polls are the use cases' business)."""
    hand = {"Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage", "End": True}
    hand["Parameters"] = _on_queue(queue_url, "POLL", "$.parentToken")["Parameters"]
    return json.dumps({"StartAt": "Hand", "States": {"Hand": hand}})


@pytest.fixture
def step_functions(monkeypatch: pytest.MonkeyPatch) -> Iterator[WorkflowUnderTest]:
    for name, value in {"AWS_DEFAULT_REGION": REGION, "AWS_REGION": REGION, "AWS_ACCESS_KEY_ID": "testing"}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    from bankupdate.stores.aws import _client
    from bankupdate.stores.workflow import StepFunctionsWorkflow

    _client.cache_clear()
    # The local stack's Step Functions patches (Waits a twentieth; moto made to behave as Step Functions does)
    fidelity = [
        *sfn_patches(wait_scale=0.05),
        *task_tokens_found_while_executions_start(),
        *heartbeat_timeouts_named_as_aws(),
    ]
    for patch in fidelity:
        patch.start()
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
        sqs, sfn = boto3.client("sqs", region_name=REGION), boto3.client("stepfunctions", region_name=REGION)
        queue = sqs.create_queue(QueueName="workflow-tasks")["QueueUrl"]
        role = "arn:aws:iam::123456789012:role/workflow"
        loop = sfn.create_state_machine(name="PollLoop", definition=_poll_loop(queue), roleArn=role, type="EXPRESS")
        machine = sfn.create_state_machine(
            name="UpdateConnection", definition=_deployed_asl(queue, loop["stateMachineArn"]), roleArn=role
        )["stateMachineArn"]
        tokens: dict[tuple[str, str], list[str]] = {}

        def token(update_id: str, purpose: WaitingTask) -> str:
            def arrived() -> str | None:
                for message in sqs.receive_message(QueueUrl=queue, WaitTimeSeconds=0).get("Messages", []):
                    body = json.loads(message["Body"])
                    tokens.setdefault((body["updateId"], body["purpose"]), []).append(body["taskToken"])
                waiting = tokens.get((update_id, purpose.value))
                return waiting.pop(0) if waiting else None

            found = str(_eventually(arrived))
            # moto sends the token before it registers the task's callback (a busy machine widens the gap): wait
            # until the task answers a heartbeat (harmless: a sign of life) while the execution runs.
            deadline = time.monotonic() + WAIT_SECONDS
            while time.monotonic() < deadline and adapter.state(update_id) is ExecutionState.RUNNING:
                if adapter.keep_alive(found):
                    break
                time.sleep(0.02)
            return found

        def fail(update_id: str) -> None:
            # Started with a one-second timeout (see FAILING): the task times out, Finalize fails, the execution fails.
            arn = adapter.execution_arn(update_id)
            _eventually(lambda: sfn.describe_execution(executionArn=arn)["status"] == "FAILED")

        adapter = StepFunctionsWorkflow(machine)
        yield WorkflowUnderTest(adapter, token, lambda _update_id: None, fail)
        for execution in sfn.list_executions(stateMachineArn=machine, statusFilter="RUNNING")["executions"]:
            sfn.stop_execution(executionArn=execution["executionArn"])
    for patch in reversed(fidelity):
        patch.stop()
    _client.cache_clear()


@pytest.fixture
def in_memory() -> WorkflowUnderTest:
    fake = FakeWorkflow(ManualClock(datetime.now(UTC)))

    def token(update_id: str, purpose: WaitingTask) -> str:
        assert fake.waiting(update_id) is purpose, fake.task_of(update_id).state
        return fake.token_of(update_id)

    def fail(update_id: str) -> None:
        fake.catch(update_id, "States.Timeout")
        fake.end(update_id, "FAILED")

    return WorkflowUnderTest(fake, token, fake.wait_over, fail)


@pytest.fixture(params=["in-memory", "step-functions"])
def workflow(request: pytest.FixtureRequest) -> WorkflowUnderTest:
    chosen: WorkflowUnderTest = request.getfixturevalue(request.param.replace("-", "_"))
    return chosen


def test_a_started_update_runs_and_its_poll_task_gets_a_token(workflow: WorkflowUnderTest) -> None:
    # When the update's workflow starts
    workflow.port.start(_input(UPDATE_A))
    # Then it runs, its Poll task holds a token (handed to its poll loop), and an update never started has none
    assert workflow.port.state(UPDATE_A) is ExecutionState.RUNNING
    assert workflow.token(UPDATE_A, WaitingTask.POLL)
    assert workflow.port.state(UPDATE_B) is ExecutionState.MISSING


def test_starting_a_running_update_again_is_harmless(workflow: WorkflowUnderTest) -> None:
    # Given a running workflow
    workflow.port.start(_input(UPDATE_A))
    token = workflow.token(UPDATE_A, WaitingTask.POLL)
    # When it is started again (a redelivered schedule, a recovery racing the trigger)
    workflow.port.start(_input(UPDATE_A))
    # Then the same execution goes on, with the same task
    assert workflow.port.state(UPDATE_A) is ExecutionState.RUNNING
    assert workflow.port.keep_alive(token) is True


def test_the_poll_task_takes_signs_of_life_until_it_is_released(workflow: WorkflowUnderTest) -> None:
    # Given a running workflow
    workflow.port.start(_input(UPDATE_A))
    token = workflow.token(UPDATE_A, WaitingTask.POLL)
    # When the update gives a sign of life, then finishes
    alive = workflow.port.keep_alive(token)
    released = workflow.port.release(token, WorkflowOutput(update_id=UPDATE_A, status=UpdateStatus.SUCCEEDED))
    # Then both are taken and the workflow ends
    assert (alive, released) == (True, True)
    _eventually(lambda: workflow.port.state(UPDATE_A) is ExecutionState.ENDED)


def test_a_closed_task_refuses_signs_of_life_and_a_second_release(workflow: WorkflowUnderTest) -> None:
    # Given a workflow whose task was released
    workflow.port.start(_input(UPDATE_A))
    token = workflow.token(UPDATE_A, WaitingTask.POLL)
    workflow.port.release(token, WorkflowOutput(update_id=UPDATE_A, status=UpdateStatus.FAILED))
    _eventually(lambda: workflow.port.state(UPDATE_A) is ExecutionState.ENDED)
    # Then a late poll's sign of life, a repeated finish, a resume and a hand-back are told the task is over
    assert workflow.port.keep_alive(token) is False
    assert workflow.port.release(token, WorkflowOutput(update_id=UPDATE_A, status=UpdateStatus.FAILED)) is False
    assert workflow.port.resume(token, UPDATE_A) is False
    assert workflow.port.hand_back(token, HandBack.USER_NEEDED, _detail(UPDATE_A)) is False


def test_a_token_no_task_ever_had_is_refused(workflow: WorkflowUnderTest) -> None:
    assert workflow.port.keep_alive("no-such-token") is False
    assert workflow.port.release("no-such-token", WorkflowOutput(update_id=UPDATE_A, status=None)) is False
    assert workflow.port.resume("no-such-token", UPDATE_A) is False
    assert workflow.port.hand_back("no-such-token", HandBack.WAIT_LONGER, _detail(UPDATE_A)) is False


def test_starting_an_ended_update_again_is_harmless_and_starts_nothing(workflow: WorkflowUnderTest) -> None:
    # Given an update whose workflow ended
    workflow.port.start(_input(UPDATE_A))
    token = workflow.token(UPDATE_A, WaitingTask.POLL)
    workflow.port.release(token, WorkflowOutput(update_id=UPDATE_A, status=UpdateStatus.SUCCEEDED))
    _eventually(lambda: workflow.port.state(UPDATE_A) is ExecutionState.ENDED)
    # When something starts it again
    workflow.port.start(_input(UPDATE_A))
    # Then no second run begins
    assert workflow.port.state(UPDATE_A) is ExecutionState.ENDED


def test_recently_failed_lists_the_workflows_that_ended_badly(workflow: WorkflowUnderTest) -> None:
    # Given one workflow that finished its update and one that failed (timed out, and Finalize failed too)
    workflow.port.start(_input(UPDATE_A))
    workflow.port.start(_input(UPDATE_B, timeout_seconds=1))
    token = workflow.token(UPDATE_A, WaitingTask.POLL)
    workflow.port.release(token, WorkflowOutput(update_id=UPDATE_A, status=UpdateStatus.SUCCEEDED))
    workflow.fail(UPDATE_B)
    # When the reconciler asks for the ones that failed in the last hour
    since = datetime.now(UTC) - timedelta(hours=1)
    failed = list(workflow.port.recently_failed(stopped_since=since, started_since=since))
    # Then only the failed one is listed, and it is over
    assert failed == [UPDATE_B]
    assert workflow.port.state(UPDATE_B) is ExecutionState.ENDED


def test_a_poll_task_handing_back_for_the_user_waits_until_resumed_then_polls_again(
    workflow: WorkflowUnderTest,
) -> None:
    # Given a running workflow whose poll loop found that the update needs its user
    workflow.port.start(_input(UPDATE_A))
    poll = workflow.token(UPDATE_A, WaitingTask.POLL)
    assert workflow.port.hand_back(poll, HandBack.USER_NEEDED, _detail(UPDATE_A, 0)) is True
    # When the user's answer resumes the wait
    user = workflow.token(UPDATE_A, WaitingTask.USER)
    assert workflow.port.keep_alive(user) is True  # each new round keeps it waiting
    assert workflow.port.resume(user, UPDATE_A) is True
    # Then a new Poll task runs, and its release ends the workflow
    again = workflow.token(UPDATE_A, WaitingTask.POLL)
    assert again not in (poll, user)
    assert workflow.port.release(again, WorkflowOutput(update_id=UPDATE_A, status=UpdateStatus.SUCCEEDED)) is True
    _eventually(lambda: workflow.port.state(UPDATE_A) is ExecutionState.ENDED)


def test_a_long_gap_is_waited_then_a_new_poll_task_runs(workflow: WorkflowUnderTest) -> None:
    # Given a Poll task whose loop hands back a gap too long for it
    workflow.port.start(_input(UPDATE_A))
    poll = workflow.token(UPDATE_A, WaitingTask.POLL)
    assert workflow.port.hand_back(poll, HandBack.WAIT_LONGER, _detail(UPDATE_A, 1)) is True
    # When the Wait state's second has passed
    workflow.wait_passes(UPDATE_A)
    # Then the next Poll task runs
    assert workflow.token(UPDATE_A, WaitingTask.POLL) != poll
    assert workflow.port.state(UPDATE_A) is ExecutionState.RUNNING


@pytest.mark.parametrize("callback_comes", [True, False])
def test_a_wait_for_the_callback_ends_when_resumed_or_at_its_timeout(
    workflow: WorkflowUnderTest, callback_comes: bool
) -> None:
    # Given a Poll task whose loop hands back a long gap to be waited for finAPI's callback (30 s, or 1 s when the
    # test lets the timeout pass)
    workflow.port.start(_input(UPDATE_A))
    poll = workflow.token(UPDATE_A, WaitingTask.POLL)
    gap = 30 if callback_comes else 1
    assert workflow.port.hand_back(poll, HandBack.AWAIT_CALLBACK, _detail(UPDATE_A, gap)) is True
    callback = workflow.token(UPDATE_A, WaitingTask.CALLBACK)
    # When the callback resumes the wait, or nothing comes and its timeout passes
    if callback_comes:
        assert workflow.port.resume(callback, UPDATE_A) is True
    else:
        workflow.wait_passes(UPDATE_A)
    # Then the next Poll task runs either way, and the wait's token is spent
    assert workflow.token(UPDATE_A, WaitingTask.POLL) not in (poll, callback)
    assert workflow.port.resume(callback, UPDATE_A) is False


# ------------------------------------------------------------------------------------- one attempt (D35)


@dataclass
class StartAnswers:
    """A before-send hook on the adapter's Step Functions clients: the next StartExecution attempts get these answers,
    on the wire, and every attempt is counted. (With moto in-process its own before-send handler still runs each
    attempt: a refused start may run there, so only the attempts say what the adapter did.)"""

    answers: list[Refusal]
    attempts: int = 0

    def __call__(self, request: Any, **_: Any) -> AWSResponse | None:
        if b"StartExecution" not in bytes(request.headers.get("X-Amz-Target", b"")):
            return None
        self.attempts += 1
        return refusal_response(self.answers.pop(0), "json", request.url) if self.answers else None

    def on(self, adapter: Workflow) -> StartAnswers:
        from bankupdate.stores.workflow import StepFunctionsWorkflow

        assert isinstance(adapter, StepFunctionsWorkflow)
        for client in (StepFunctionsWorkflow._sfn, StepFunctionsWorkflow._sfn_once):
            client.meta.events.register_first("before-send", self, unique_id="test-start-answers")
        return self


THROTTLE = Refusal("states", "ThrottlingException", 400, "Rate exceeded")
UNAVAILABLE = Refusal("states", "ServiceUnavailable", 503, "Service Unavailable")


def test_a_start_without_throttle_retries_raises_at_the_first_refusal(step_functions: WorkflowUnderTest) -> None:
    # Given Step Functions refusing every start for rate
    starts = StartAnswers([THROTTLE] * 6).on(step_functions.port)
    # When the trigger's start (no retries on throttles) is made
    with pytest.raises(AwsThrottled):
        step_functions.port.start(_input(UPDATE_A), retry_throttles=False)
    # Then one attempt was made: no retry by botocore, none through the usual client
    assert starts.attempts == 1
    # (moto's in-process handler ran that attempt anyway: its execution reaches the Poll task before the fixture
    # stops it, as moto cannot stop an execution that has not begun)
    step_functions.token(UPDATE_A, WaitingTask.POLL)


def test_a_start_without_throttle_retries_still_retries_a_fault(step_functions: WorkflowUnderTest) -> None:
    # Given Step Functions answering the next start 503 (a fault, not a throttle), then as usual
    starts = StartAnswers([UNAVAILABLE]).on(step_functions.port)
    # When the trigger's start (no retries on throttles) is made
    started = step_functions.port.start(_input(UPDATE_A), retry_throttles=False)
    # Then the fault was retried (only throttles are left to the reconciler) and the update's workflow runs
    assert started and starts.attempts == 2
    assert step_functions.port.state(UPDATE_A) is ExecutionState.RUNNING
    assert step_functions.token(UPDATE_A, WaitingTask.POLL)
