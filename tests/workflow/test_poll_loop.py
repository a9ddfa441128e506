"""The poll loop's own paths, over the real ASL: a loop that hands on to a fresh one before Express's time limit, a
poll that Lambda fails (retried with jitter), and a poll that keeps failing (Finalize ends the update)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from bankupdate.contract import POLL_HISTORY_LIMIT
from tests.conftest import BankUser, running_stack
from tests.support.workflow import ended_poll_loops, poll_loops, polls_of, transitions_of

NO_SCA = [{"label": "Onlinebanking-ID", "value": "demo_no_msa"}, {"label": "PIN", "value": "demo_no_msa"}]
COOL_DOWN_SECONDS = 3


@pytest.fixture(scope="module")
def stack(sandbox: Any) -> Iterator[Any]:
    # A loop hands on after 5 s of its life here (the deployment's loops: ~170 s, inside Express's 300 s); a refused
    # poll cools down 3 s (the deployment's: 20 s)
    env = {
        "POLL_LOOP_MAX_SECONDS": "6",
        "POLL_RESERVE_SECONDS": "1",
        "POLL_COOL_DOWN_SILENCE_SECONDS": "1",
        "POLL_COOL_DOWN_SECONDS": str(COOL_DOWN_SECONDS),
    }
    with running_stack(sandbox, env=env) as local:
        yield local


def states_entered(loop: dict[str, Any]) -> list[str]:
    return [e["stateEnteredEventDetails"]["name"] for e in loop["events"] if "stateEnteredEventDetails" in e]


def test_a_loop_near_its_time_limit_hands_on_to_a_fresh_loop(new_user: Any, stack: Any) -> None:
    # Given a download of 9 s, longer than one loop may live here
    user: BankUser = new_user(download_seconds=9)
    # When the user syncs
    started = user.api.trigger(user.connections["DEMO0001"], {"interface": "XS2A", "loginCredentials": NO_SCA})
    update_id = started.json()["updateId"]
    user.api.wait_for(update_id, {"SUCCEEDED"}, timeout=60)
    # Then several loops polled in turn, each started by the one before (Continue), within one Poll task
    loops = poll_loops(stack, update_id)
    assert len(loops) >= 2
    assert all(states_entered(loop)[-2:] == ["Continue", "Done"] for loop in loops[:-1])
    assert "Continue" not in states_entered(loops[-1])
    assert transitions_of(stack, update_id) == ["Poll"]
    # And the history lists the polls across the loops: every one, or (past its limit) the first and the latest
    polls = polls_of(stack, update_id)
    assert len(polls) == min(sum(states_entered(loop).count("Poll") for loop in loops), POLL_HISTORY_LIMIT)
    assert polls[-1]["saw"] == "READY"


def test_a_poll_that_lambda_fails_is_retried(new_user: Any, stack: Any) -> None:
    # Given Lambda fails the next two invocations of the poll function (a crashed runtime, then a throttle)
    user: BankUser = new_user(download_seconds=1)
    stack.runtime.fail_next("PollUpdateStatusFunction", "Lambda.Unknown")
    stack.runtime.fail_next("PollUpdateStatusFunction", "Lambda.TooManyRequestsException")
    # When the user syncs
    started = user.api.trigger(user.connections["DEMO0001"], {"interface": "XS2A", "loginCredentials": NO_SCA})
    update_id = started.json()["updateId"]
    # Then the loop's Retry polls again, and the update succeeds as if nothing happened
    assert user.api.wait_for(update_id, {"SUCCEEDED"})["status"] == "SUCCEEDED"
    (loop,) = poll_loops(stack, update_id)
    failures = [
        e["lambdaFunctionFailedEventDetails"]["error"]
        for e in loop["events"]
        if "lambdaFunctionFailedEventDetails" in e
    ]
    task_failures = [e["taskFailedEventDetails"]["error"] for e in loop["events"] if "taskFailedEventDetails" in e]
    assert failures + task_failures
    assert set(failures + task_failures) <= {"Lambda.Unknown", "Lambda.TooManyRequestsException"}
    assert transitions_of(stack, update_id) == ["Poll"]


def test_a_poll_that_keeps_failing_ends_the_update_through_finalize(new_user: Any, stack: Any) -> None:
    # Given Lambda fails every attempt of the first poll (the loop tries three times)
    user: BankUser = new_user(download_seconds=1)
    stack.runtime.fail_next("PollUpdateStatusFunction", "Lambda.Unknown", times=3)
    # When the user syncs
    started = user.api.trigger(user.connections["DEMO0001"], {"interface": "XS2A", "loginCredentials": NO_SCA})
    update_id = started.json()["updateId"]
    # Then the loop gives up into Finalize: the update fails as stalled, retryably, and the connection is free
    done = user.api.wait_for(update_id, {"FAILED"})
    assert done["error"]["code"] == "UPDATE_STALLED" and done["error"]["retryable"] is True
    assert user.api.wait_until_unlocked(user.connections["DEMO0001"])["activeUpdateId"] is None
    (loop,) = ended_poll_loops(stack, update_id)
    assert states_entered(loop)[-2:] == ["GiveUp", "Done"]
    # And Finalize ended the update's Poll task, so the workflow is over too
    assert transitions_of(stack, update_id) == ["Poll"]


def test_a_poll_that_lambda_keeps_refusing_cools_down_in_a_fresh_loop(new_user: Any, stack: Any) -> None:
    # Given Lambda refuses every attempt of the first poll (the account's concurrency spent: TooManyRequests)
    user: BankUser = new_user(download_seconds=1)
    stack.runtime.fail_next("PollUpdateStatusFunction", "Lambda.TooManyRequestsException", times=3)
    # When the user syncs
    started = user.api.trigger(user.connections["DEMO0001"], {"interface": "XS2A", "loginCredentials": NO_SCA})
    update_id = started.json()["updateId"]
    # Then the poll is not lost: the loop cools down, a fresh loop polls again, and the update succeeds
    assert user.api.wait_for(update_id, {"SUCCEEDED"})["status"] == "SUCCEEDED"
    first, *fresh = poll_loops(stack, update_id)
    assert states_entered(first) == ["Wait", "Poll", "CoolDown", "Continue", "Done"]
    assert fresh and states_entered(fresh[0])[:2] == ["Wait", "Poll"]
    # (the fresh loop waited the cool-down the workflow's input carries from the settings: POLL_COOL_DOWN_SECONDS)
    assert fresh[0]["input"]["gapSeconds"] == first["input"]["coolDownSeconds"] == COOL_DOWN_SECONDS
    assert transitions_of(stack, update_id) == ["Poll"]
    assert polls_of(stack, update_id)[-1]["saw"] == "READY"
