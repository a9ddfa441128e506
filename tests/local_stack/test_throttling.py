"""AWS's throttles on the local stack, and what they leave behind: nothing lost, nothing locked, no budget spent twice.

The stack runs with AWS's default quotas (none binds at this size); each test lowers one, or refuses a share of every
AWS call the functions and the workflows make, at random (``local_stack/throttling.py``), only while it acts.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from local_stack.quotas import Quotas
from local_stack.template import REGION
from local_stack.throttling import QuotaEnforcement
from tests.conftest import BankUser, register_finapi_user, running_stack
from tests.support.api_client import BankUpdateApi
from tests.support.workflow import ended_poll_loops, history, poll_loops
from tests.workflow.test_scheduled_updates import executions, sync

# Of every AWS call of the stack's code, refused at random while a test acts: 0.1 keeps the suite's run short (the
# aimed tests prove each call site); docs/reliability.md has larger runs (THROTTLE_RATE up to 0.5, THROTTLE_USERS,
# THROTTLE_CONNECTIONS, with THROTTLE_SETTLE_SECONDS to match: a higher rate takes minutes).
RATE = float(os.environ.get("THROTTLE_RATE", "0.1"))
USERS = int(os.environ.get("THROTTLE_USERS", "3"))
SCHEDULED_CONNECTIONS = int(os.environ.get("THROTTLE_CONNECTIONS", "0"))
SETTLE_SECONDS = float(os.environ.get("THROTTLE_SETTLE_SECONDS", "40"))
TERMINAL = {"SUCCEEDED", "FAILED", "EXPIRED"}
ORPHAN_GRACE_SECONDS = 2
RECONCILER = "ReconcileStaleUpdatesFunctionReconciler"


@pytest.fixture(scope="module")
def stack(sandbox: Any) -> Iterator[Any]:
    # START_RESERVE_SECONDS 1: a start redelivered a second later stands for one redelivered after the queue's 720 s
    # ORPHAN_GRACE_SECONDS: the reconciler takes an update without a workflow after this (120 s in production)
    env = {"START_RESERVE_SECONDS": "1", "ORPHAN_GRACE_SECONDS": str(ORPHAN_GRACE_SECONDS)}
    with running_stack(sandbox, quotas=Quotas.default(), UpdateDeadlineSeconds="20", env=env) as local:
        yield local


@pytest.fixture
def throttles(stack: Any) -> Iterator[QuotaEnforcement]:
    enforcement: QuotaEnforcement = stack.quotas
    yield enforcement
    enforcement.injected_rate = 0.0
    enforcement.forget_aims()
    enforcement.set_quotas(Quotas.default())


def settle(stack: Any, timeout: float = SETTLE_SECONDS) -> None:
    """No update's execution is running any more (read with the test's own, unthrottled client)."""
    deadline = time.monotonic() + timeout
    while running := [e["name"] for e in executions(stack) if e["status"] == "RUNNING"]:
        assert time.monotonic() < deadline, f"executions still running: {running}"
        time.sleep(0.2)


def quiet(stack: Any, timeout: float = SETTLE_SECONDS) -> None:
    """No execution of any test is running any more, poll loops included: an Express loop can outlive its update's
    execution by a poll, and a refusal aimed at the next call (``refuse_next``) must meet the test's own."""
    settle(stack, timeout)
    ended_poll_loops(stack, None, timeout)


def test_a_trigger_whose_record_cannot_be_written_answers_503_and_leaves_no_lock(
    new_user: Any, sandbox: Any, stack: Any, throttles: QuotaEnforcement
) -> None:
    # Given a user whose connection is known, and the active-updates index partitions refusing every write for rate
    user: BankUser = new_user(download_seconds=0.2)
    connection = user.connections["DEMO0001"]
    assert connection in sync(stack, user.sub)
    throttles.set_quotas(Quotas.default().with_overrides(dynamodb__partition__write=(0.5, 0)))
    calls_before = len(sandbox.world.calls)
    # When the user presses Sync
    answer = user.api.trigger(connection, {"interface": "XS2A"})
    # Then the answer is a clear, retryable 503 with Retry-After, finAPI was not asked, and the lock is free
    assert answer.status_code == 503, answer.text
    error = answer.json()["error"]
    assert error["code"] == "THROTTLED" and error["details"]["retryable"] is True
    assert answer.headers["Retry-After"] == str(error["details"]["retryAfterSeconds"])
    assert not [c for c in sandbox.world.calls[calls_before:] if c.path.endswith("/bankConnections/update")]
    assert user.api.connection(connection).json()["activeUpdateId"] is None
    assert throttles.refused["dynamodb.partition.write"] >= 3  # botocore's three attempts


def test_the_stage_throttle_answers_api_gateways_own_429(
    new_user: Any, stack: Any, throttles: QuotaEnforcement
) -> None:
    # Given the stage's route throttle lowered to a burst of one request and next to no refill
    user: BankUser = new_user()
    assert user.connections["DEMO0001"] in sync(stack, user.sub)
    throttles.set_quotas(Quotas.default().with_overrides(apigateway__stage=(1, 0.001)))
    # When the same route is called twice at once
    first = user.api.connection(user.connections["DEMO0001"])
    second = user.api.connection(user.connections["DEMO0001"])
    # Then the second gets API Gateway's own 429, before any function runs
    assert first.status_code == 200
    assert second.status_code == 429 and second.json() == {"message": "Too Many Requests"}


def test_an_account_out_of_lambda_concurrency_refuses_invocations_as_lambda_does(
    new_user: Any, stack: Any, throttles: QuotaEnforcement
) -> None:
    # Given the account's Lambda concurrency lowered to one execution, which another workload holds
    user: BankUser = new_user(download_seconds=0.2)
    throttles.set_quotas(Quotas.default().with_overrides(lambda__concurrency=(1, 0)))
    assert throttles.enter_function("AnotherWorkloadsFunction") is None
    lambda_client = boto3.client(
        "lambda",
        endpoint_url=stack.endpoint,
        region_name=REGION,
        config=Config(retries={"mode": "standard", "total_max_attempts": 1}),
    )
    try:
        # When the user presses Sync, and a function is invoked as Step Functions' integration invokes it
        pressed = user.api.trigger(user.connections["DEMO0001"], {"interface": "XS2A"})
        with pytest.raises(ClientError) as invoked:
            lambda_client.invoke(FunctionName=stack.physical_id("PollUpdateStatusFunction"), Payload=b"{}")
    finally:
        throttles.leave_function("AnotherWorkloadsFunction")
    # Then API Gateway answers its bare 500, and the Invoke is Lambda's 429 TooManyRequestsException
    assert pressed.status_code == 500 and pressed.json() == {"message": "Internal Server Error"}
    assert invoked.value.response["Error"]["Code"] == "TooManyRequestsException"
    assert invoked.value.response["ResponseMetadata"]["HTTPStatusCode"] == 429
    # And once the other execution ended (and the account has its concurrency back), pressing again starts the
    # update, which succeeds
    throttles.set_quotas(Quotas.default())
    again = user.api.trigger(user.connections["DEMO0001"], {"interface": "XS2A"})
    assert again.status_code == 202, again.text
    assert user.api.wait_for(again.json()["updateId"], TERMINAL)["status"] == "SUCCEEDED"


def test_user_triggers_under_throttles_everywhere_start_or_answer_retryably_and_all_end(
    new_user: Any, stack: Any, throttles: QuotaEnforcement
) -> None:
    # Given a few users, a share of every AWS call of the functions and the workflows refused for rate, and the
    # Standard workflow's state transitions lowered to a burst of one refilled twenty times a second
    users: list[BankUser] = [new_user(download_seconds=0.2) for _ in range(USERS)]
    for user in users:
        assert user.connections["DEMO0001"] in sync(stack, user.sub)
    throttles.set_quotas(Quotas.default().with_overrides(stepfunctions__StateTransition__standard=(1, 20)))
    throttles.injected_rate = RATE

    # When they all press Sync, two at a time, and the workflows run their course
    def press(user: BankUser) -> Any:
        return user.api.trigger(user.connections["DEMO0001"], {"interface": "XS2A"})

    with ThreadPoolExecutor(max_workers=2) as pool:
        answers = list(pool.map(press, users))
    settle(stack)
    throttles.injected_rate = 0.0
    # (a trigger whose workflow start was refused past botocore's retries left its update to the reconciler)
    time.sleep(ORPHAN_GRACE_SECONDS)
    stack.fire_schedule(RECONCILER)
    settle(stack)

    # Then each either started its update or got a retryable 503 THROTTLED with Retry-After
    started: list[tuple[BankUser, str]] = []
    for user, answer in zip(users, answers, strict=True):
        if answer.status_code == 202:
            started.append((user, answer.json()["updateId"]))
            continue
        assert answer.status_code == 503, answer.text
        assert answer.json()["error"]["code"] == "THROTTLED" and "Retry-After" in answer.headers
    # And every started update ended, and no connection is left locked
    outcomes: Counter[tuple[str, str | None]] = Counter()
    for user, update_id in started:
        update = user.api.update(update_id).json()
        assert update["status"] in TERMINAL, update
        outcomes[(update["status"], (update.get("error") or {}).get("code"))] += 1
    for user in users:
        assert user.api.wait_until_unlocked(user.connections["DEMO0001"])["activeUpdateId"] is None
    # And the throttles really met the functions' and the workflows' calls, and transitions were held back (never
    # refused)
    assert sum(v for k, v in throttles.refused.items() if k.startswith("injected.")) > 0, throttles.attempts
    assert throttles.refused["stepfunctions.StateTransition.standard"] > 0
    print(
        f"answers {Counter(a.status_code for a in answers)}, outcomes {dict(outcomes)}, "
        f"refused {dict(throttles.refused)} of {dict(throttles.attempts)} attempts"
    )


def test_a_scheduled_start_whose_workflow_start_is_throttled_is_retried_from_its_queue_and_spends_the_budget_once(
    sandbox: Any, stack: Any, throttles: QuotaEnforcement
) -> None:
    # Given a connection due for a background update, and Step Functions refusing the next three StartExecution
    # attempts (all of one call's: it fails after the claim, the lock, the budget and finAPI's update)
    api, [message] = _due_connections(sandbox, stack, 1)
    calls_before = len(sandbox.world.calls)
    quiet(stack)
    throttles.refuse_next("states", "StartExecution", times=3)

    # When its message is delivered to StartScheduledUpdate, and again as long as it comes back (as SQS redelivers
    # it after the visibility timeout), and once more after that (SQS delivers at least once)
    deliveries = 1
    while not _delivered(stack, message):
        assert deliveries < 5, "the start never succeeded"
        time.sleep(1.1)  # past START_RESERVE_SECONDS, as a redelivery after the visibility timeout is
        deliveries += 1
    assert _delivered(stack, message)
    settle(stack)

    # Then the failed start came back once and was started then: finAPI's update was called once, the bank's budget
    # spent once, and the update ended with the connection unlocked
    assert deliveries == 2
    update_calls = [c for c in sandbox.world.calls[calls_before:] if c.path.endswith("/bankConnections/update")]
    assert len(update_calls) == 1
    listed = api.list_connections().json()["connections"][0]
    assert listed["schedule"]["unattendedUsedToday"] == 1, listed
    assert listed["activeUpdateId"] is None and listed["lastOutcome"] == "SUCCEEDED", listed
    api.close()


def test_a_throttled_poll_is_retried_by_the_poll_loop(new_user: Any, stack: Any, throttles: QuotaEnforcement) -> None:
    # Given a user, and Lambda refusing the workflows' next two invocations (its 429 TooManyRequestsException)
    user: BankUser = new_user(download_seconds=0.2)
    quiet(stack)
    throttles.refuse_next("lambda", "Invoke", times=2, where=_none_of(_updates_so_far(stack)))
    # When the user presses Sync
    answer = user.api.trigger(user.connections["DEMO0001"], {"interface": "XS2A"})
    assert answer.status_code == 202, answer.text
    update_id = answer.json()["updateId"]
    final = user.api.wait_for(update_id, TERMINAL)
    settle(stack)
    # Then the workflows' Retry took both throttles (Lambda.TooManyRequestsException) and the update succeeded: a
    # poll loop's Poll, or the update's own Finalize when the download was over before its first poll
    assert final["status"] == "SUCCEEDED", final
    assert throttles.unmet_aims() == {}, "no invocation of the update's workflows met the aimed refusals"
    errors = _loop_task_errors(stack, update_id) + _task_errors(history(stack, update_id))
    assert errors.count("Lambda.TooManyRequestsException") == 2, (errors, throttles.aimed_refusals)


def test_a_throttled_finish_is_retried_by_the_poll_loop(new_user: Any, stack: Any, throttles: QuotaEnforcement) -> None:
    # Given a user, and Step Functions refusing every attempt of the next SendTaskSuccess (the poll that finds the
    # update done hands its result to the update's workflow with it)
    user: BankUser = new_user(download_seconds=0.2)
    quiet(stack)
    throttles.refuse_next("states", "SendTaskSuccess", times=3, where=_none_of(_updates_so_far(stack)))
    # When the user presses Sync
    answer = user.api.trigger(user.connections["DEMO0001"], {"interface": "XS2A"})
    assert answer.status_code == 202, answer.text
    update_id = answer.json()["updateId"]
    final = user.api.wait_for(update_id, TERMINAL)
    settle(stack)  # the record is finished before the workflow hears of it
    # Then that poll failed with AwsThrottled, the loop's Retry polled again, and the update succeeded unlocked
    assert final["status"] == "SUCCEEDED", final
    assert "AwsThrottled" in _loop_task_errors(stack, update_id)
    assert user.api.wait_until_unlocked(user.connections["DEMO0001"])["activeUpdateId"] is None


def test_a_trigger_whose_workflow_start_is_throttled_answers_202_and_the_reconciler_starts_its_workflow(
    new_user: Any, sandbox: Any, stack: Any, throttles: QuotaEnforcement
) -> None:
    # Given a user, and Step Functions refusing the next StartExecution once (a retry would have started it)
    user: BankUser = new_user(download_seconds=0.2)
    connection = user.connections["DEMO0001"]
    calls_before, refused_before = len(sandbox.world.calls), throttles.refused["injected.states"]
    quiet(stack)
    throttles.refuse_next("states", "StartExecution", times=1)
    # When the user presses Sync
    answer = user.api.trigger(connection, {"interface": "XS2A"})
    # Then finAPI has the update and so has the caller (202): the update is open, its connection locked, and it has
    # no execution yet: the trigger made one attempt and left the start to the reconciler (D35)
    assert answer.status_code == 202, answer.text
    update_id = answer.json()["updateId"]
    assert throttles.refused["injected.states"] - refused_before == 1
    assert user.api.connection(connection).json()["activeUpdateId"] == update_id
    assert update_id not in {e["name"] for e in executions(stack)}
    # When the reconciler runs once the grace period is over (EventBridge Scheduler, every five minutes)
    time.sleep(ORPHAN_GRACE_SECONDS + 0.5)
    run = stack.fire_schedule(RECONCILER)
    # Then it started the update's workflow, which ended the update finAPI began: succeeded, the connection free, and
    # finAPI's update endpoint called that once
    assert run["recovered"] == 1, run
    assert user.api.wait_for(update_id, TERMINAL)["status"] == "SUCCEEDED"
    assert user.api.wait_until_unlocked(connection)["activeUpdateId"] is None
    update_calls = [c for c in sandbox.world.calls[calls_before:] if c.path.endswith("/bankConnections/update")]
    assert len(update_calls) == 1


def _updates_so_far(stack: Any) -> set[str]:
    """Every update a workflow or poll loop has run for (an execution's name is its update's id)."""
    loops = poll_loops(stack, None)
    return {e["name"] for e in executions(stack)} | {str(loop["input"].get("updateId")) for loop in loops}


def _none_of(updates: set[str]) -> Callable[[Mapping[str, Any]], bool]:
    """An aimed refusal's filter: a call made for none of ``updates`` (a stray poll or finish of an earlier test's
    update does not take a refusal aimed at this test's)."""

    def accepts(params: Mapping[str, Any]) -> bool:
        text = str(params)
        return not any(update_id in text for update_id in updates)

    return accepts


def _loop_task_errors(stack: Any, update_id: str) -> list[str]:
    """The errors of the failed tasks of the update's poll loops (their CloudWatch log's stand-in), once every loop
    has ended (a loop can outlive its update's execution by a state)."""
    loops = ended_poll_loops(stack, update_id)
    return [error for loop in loops for error in _task_errors(loop["events"])]


def _task_errors(events: list[dict[str, Any]]) -> list[str]:
    """The errors of an execution's failed tasks."""
    failed = [event for event in events if event.get("type") == "TaskFailed"]
    return [str(event.get("taskFailedEventDetails", {}).get("error")) for event in failed]


@pytest.mark.skipif(SCHEDULED_CONNECTIONS == 0, reason="a larger run: set THROTTLE_CONNECTIONS (and THROTTLE_RATE)")
def test_scheduled_starts_under_throttles_everywhere_spend_each_budget_once_and_all_end(
    sandbox: Any, stack: Any, throttles: QuotaEnforcement
) -> None:
    # Given one user with connections due for a background update, and a share of every AWS call refused for rate
    api, messages = _due_connections(sandbox, stack, SCHEDULED_CONNECTIONS)
    connection_ids = [m["connectionId"] for m in messages]
    calls_before = len(sandbox.world.calls)
    throttles.injected_rate = RATE

    # When each message is delivered until StartScheduledUpdate is done with it (a failed delivery comes back after
    # the visibility timeout: here a second, past START_RESERVE_SECONDS), and once more after that
    deliveries = Counter[int]()
    for message in messages:
        for _ in range(10):
            deliveries[message["connectionId"]] += 1
            if _delivered(stack, message):
                break
            time.sleep(1.1)
        _delivered(stack, message)
    settle(stack)
    throttles.injected_rate = 0.0

    # Then finAPI's update was called at most once per connection and the bank's budget spent at most once, every
    # update ended and no connection is locked
    update_calls = Counter(
        c.connection_id for c in sandbox.world.calls[calls_before:] if c.path.endswith("/bankConnections/update")
    )
    assert set(update_calls.values()) <= {1}, update_calls
    listed = {c["connectionId"]: c for c in api.list_connections().json()["connections"]}
    for connection_id in connection_ids:
        assert listed[connection_id]["schedule"]["unattendedUsedToday"] <= 1, listed[connection_id]
        assert listed[connection_id]["activeUpdateId"] is None, listed[connection_id]
    outcomes = Counter(
        (listed[c]["lastOutcome"], (listed[c].get("lastError") or {}).get("code")) for c in connection_ids
    )
    print(
        f"deliveries {sorted(deliveries.values())}, finAPI updates {sum(update_calls.values())}, outcomes "
        f"{dict(outcomes)}, refused {dict(throttles.refused)} of {dict(throttles.attempts)} attempts"
    )
    api.close()


def _due_connections(sandbox: Any, stack: Any, count: int) -> tuple[BankUpdateApi, list[dict[str, Any]]]:
    """A new user with ``count`` connections, background updates on: the user's API client, and the message of each
    connection's due slot as ScheduleUpdates enqueues it."""
    suffix = uuid.uuid4().hex[:8]
    sub, username = f"throttled-{suffix}", f"finapi-throttled-{suffix}"
    sandbox.world.create_user(username, "pw")
    for _ in range(count):
        sandbox.world.add_connection(username, download_seconds=0.2)
    register_finapi_user(stack, sub, username, "pw")
    api = BankUpdateApi(stack.api_url, stack.issue_token(sub=sub))
    due = [(c, api.connection_schedule(c, enabled=True).json()["schedule"]["nextDueAt"]) for c in sync(stack, sub)]
    return api, [{"ownerId": sub, "connectionId": c, "slot": slot} for c, slot in due]


def _delivered(stack: Any, message: dict[str, Any]) -> bool:
    """One SQS delivery of a message to the start function: whether it is done with it (else it comes back)."""
    record = {
        "messageId": uuid.uuid4().hex,
        "receiptHandle": "r",
        "body": json.dumps(message),
        "attributes": {},
        "messageAttributes": {},
        "md5OfBody": "",
        "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:eu-central-1:123456789012:schedule",
        "awsRegion": "eu-central-1",
    }
    try:
        answer = stack.invoke("StartScheduledUpdateFunction", {"Records": [record]})
    except Exception:  # the whole batch failed: it comes back
        return False
    return not answer.get("batchItemFailures")
