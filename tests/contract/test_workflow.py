"""Workflow: the Step Functions adapter on moto (executing the deployed ASL, its supervising task handing the token to
an SQS queue instead of the Lambda function) and the fake the use-case suite runs on, held to the same behaviour."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from moto import mock_aws

from bankupdate.contract import WorkflowInput, WorkflowOutput
from bankupdate.domain.model import UpdateStatus
from bankupdate.ports import ExecutionState, Workflow
from tests.conftest import ROOT
from tests.contract.conftest import REGION
from tests.fakes import FakeWorkflow, ManualClock

UPDATE_A, UPDATE_B = "a" * 32, "b" * 32
WAIT_SECONDS = 15.0  # a bound on moto's execution threads, never a measured time


def _input(update_id: str, timeout_seconds: int = 600) -> WorkflowInput:
    return WorkflowInput(update_id=update_id, timeout_seconds=timeout_seconds, heartbeat_seconds=300)


def _eventually(condition: Callable[[], Any]) -> Any:
    deadline = time.monotonic() + WAIT_SECONDS
    while not (found := condition()):
        assert time.monotonic() < deadline, "moto's execution did not get there"
        time.sleep(0.02)
    return found


@dataclass
class WorkflowUnderTest:
    port: Workflow
    supervise_token: Callable[[str], str]  # the token Step Functions hands the supervising task
    fail: Callable[[str], None]  # the execution ends badly (its task timed out, then Finalize failed)


def _deployed_asl_with_tasks_on(queue_url: str) -> str:
    """The deployed definition; its tasks send to SQS instead of invoking our functions (which are not here), and
    Finalize fails at once instead of after its retries (so a failed workflow ends within a test)."""
    asl = json.loads((ROOT / "statemachines" / "update_connection.asl.json").read_text())
    supervise, finalize = asl["States"]["Supervise"], asl["States"]["Finalize"]
    assert supervise["Resource"] == "arn:aws:states:::lambda:invoke.waitForTaskToken"
    supervise["Resource"] = "arn:aws:states:::sqs:sendMessage.waitForTaskToken"
    supervise["Parameters"] = {
        "QueueUrl": queue_url,
        "MessageBody": {"updateId.$": "$.updateId", "taskToken.$": "$$.Task.Token"},
    }
    finalize["Resource"] = "arn:aws:states:::sqs:sendMessage"
    finalize["Parameters"] = {"QueueUrl": queue_url + "-missing", "MessageBody.$": "$.updateId"}
    del finalize["Retry"], finalize["ResultSelector"]
    return json.dumps(asl)


@pytest.fixture
def step_functions(monkeypatch: pytest.MonkeyPatch) -> Iterator[WorkflowUnderTest]:
    for name, value in {"AWS_DEFAULT_REGION": REGION, "AWS_REGION": REGION, "AWS_ACCESS_KEY_ID": "testing"}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    from bankupdate.stores.aws import _client
    from bankupdate.stores.workflow import StepFunctionsWorkflow

    _client.cache_clear()
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
        sqs, sfn = boto3.client("sqs", region_name=REGION), boto3.client("stepfunctions", region_name=REGION)
        queue = sqs.create_queue(QueueName="supervise-tasks")["QueueUrl"]
        machine = sfn.create_state_machine(
            name="UpdateConnection",
            definition=_deployed_asl_with_tasks_on(queue),
            roleArn="arn:aws:iam::123456789012:role/workflow",
        )["stateMachineArn"]
        tokens: dict[str, str] = {}

        def supervise_token(update_id: str) -> str:
            def arrived() -> str | None:
                for message in sqs.receive_message(QueueUrl=queue, WaitTimeSeconds=0).get("Messages", []):
                    body = json.loads(message["Body"])
                    tokens[body["updateId"]] = body["taskToken"]
                return tokens.get(update_id)

            token = str(_eventually(arrived))
            # moto sends the token before it registers the task's callback (a busy machine widens the gap): wait
            # until the task answers a heartbeat (harmless: a sign of life) while the execution runs.
            deadline = time.monotonic() + WAIT_SECONDS
            while time.monotonic() < deadline and adapter.state(update_id) is ExecutionState.RUNNING:
                if adapter.keep_alive(token):
                    break
                time.sleep(0.02)
            return token

        def fail(update_id: str) -> None:
            # Started with a one-second timeout (see FAILING): the task times out, Finalize fails, the execution fails.
            arn = adapter.execution_arn(update_id)
            _eventually(lambda: sfn.describe_execution(executionArn=arn)["status"] == "FAILED")

        adapter = StepFunctionsWorkflow(machine)
        yield WorkflowUnderTest(adapter, supervise_token, fail)
        for execution in sfn.list_executions(stateMachineArn=machine, statusFilter="RUNNING")["executions"]:
            sfn.stop_execution(executionArn=execution["executionArn"])
    _client.cache_clear()


@pytest.fixture
def in_memory() -> WorkflowUnderTest:
    fake = FakeWorkflow(ManualClock(datetime.now(UTC)))

    def fail(update_id: str) -> None:
        fake.catch(update_id, "States.Timeout")
        fake.end(update_id, "FAILED")

    return WorkflowUnderTest(fake, fake.token_of, fail)


@pytest.fixture(params=["in-memory", "step-functions"])
def workflow(request: pytest.FixtureRequest) -> WorkflowUnderTest:
    chosen: WorkflowUnderTest = request.getfixturevalue(request.param.replace("-", "_"))
    return chosen


def test_a_started_update_runs_and_its_supervising_task_gets_a_token(workflow: WorkflowUnderTest) -> None:
    # When the update's workflow starts
    workflow.port.start(_input(UPDATE_A))
    # Then it runs, its supervising task holds a token, and an update never started has no workflow
    assert workflow.port.state(UPDATE_A) is ExecutionState.RUNNING
    assert workflow.supervise_token(UPDATE_A)
    assert workflow.port.state(UPDATE_B) is ExecutionState.MISSING


def test_starting_a_running_update_again_is_harmless(workflow: WorkflowUnderTest) -> None:
    # Given a running workflow
    workflow.port.start(_input(UPDATE_A))
    token = workflow.supervise_token(UPDATE_A)
    # When it is started again (a redelivered schedule, a recovery racing the trigger)
    workflow.port.start(_input(UPDATE_A))
    # Then the same execution goes on, with the same task
    assert workflow.port.state(UPDATE_A) is ExecutionState.RUNNING
    assert workflow.port.keep_alive(token) is True


def test_the_supervising_task_takes_signs_of_life_until_it_is_released(workflow: WorkflowUnderTest) -> None:
    # Given a running workflow
    workflow.port.start(_input(UPDATE_A))
    token = workflow.supervise_token(UPDATE_A)
    # When the update gives a sign of life, then finishes
    alive = workflow.port.keep_alive(token)
    released = workflow.port.release(token, WorkflowOutput(update_id=UPDATE_A, status=UpdateStatus.SUCCEEDED))
    # Then both are taken and the workflow ends
    assert (alive, released) == (True, True)
    _eventually(lambda: workflow.port.state(UPDATE_A) is ExecutionState.ENDED)


def test_a_closed_task_refuses_signs_of_life_and_a_second_release(workflow: WorkflowUnderTest) -> None:
    # Given a workflow whose task was released
    workflow.port.start(_input(UPDATE_A))
    token = workflow.supervise_token(UPDATE_A)
    workflow.port.release(token, WorkflowOutput(update_id=UPDATE_A, status=UpdateStatus.FAILED))
    _eventually(lambda: workflow.port.state(UPDATE_A) is ExecutionState.ENDED)
    # Then a late look's sign of life and a repeated finish are told the task is over
    assert workflow.port.keep_alive(token) is False
    assert workflow.port.release(token, WorkflowOutput(update_id=UPDATE_A, status=UpdateStatus.FAILED)) is False


def test_a_token_no_task_ever_had_is_refused(workflow: WorkflowUnderTest) -> None:
    assert workflow.port.keep_alive("no-such-token") is False
    assert workflow.port.release("no-such-token", WorkflowOutput(update_id=UPDATE_A, status=None)) is False


def test_starting_an_ended_update_again_is_harmless_and_starts_nothing(workflow: WorkflowUnderTest) -> None:
    # Given an update whose workflow ended
    workflow.port.start(_input(UPDATE_A))
    token = workflow.supervise_token(UPDATE_A)
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
    token = workflow.supervise_token(UPDATE_A)
    workflow.port.release(token, WorkflowOutput(update_id=UPDATE_A, status=UpdateStatus.SUCCEEDED))
    workflow.fail(UPDATE_B)
    # When the reconciler asks for the ones that failed in the last hour
    since = datetime.now(UTC) - timedelta(hours=1)
    failed = list(workflow.port.recently_failed(stopped_since=since, started_since=since))
    # Then only the failed one is listed, and it is over
    assert failed == [UPDATE_B]
    assert workflow.port.state(UPDATE_B) is ExecutionState.ENDED
