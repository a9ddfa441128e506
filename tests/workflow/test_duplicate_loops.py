"""Express starts a poll loop at least once: here every loop starts twice. The twin finds the update's polls claimed
(one conditional write per loop) and ends before asking finAPI anything, so finAPI sees each poll once and never two
reads of a task within its one second."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import BankUser, running_stack
from tests.support.workflow import poll_loops, polls_of, transitions_of


@pytest.fixture(scope="module")
def stack(sandbox: Any, webform_sandbox: Any) -> Iterator[Any]:
    parameters = {"Integration": "WEB_FORM", "WebFormBaseUrl": webform_sandbox.base_url}
    env = {
        "POLL_LOOP_MAX_SECONDS": "6",
        "POLL_RESERVE_SECONDS": "1",
        "POLL_COOL_DOWN_SILENCE_SECONDS": "1",
    }  # loops hand on after 5 s: more starts
    with running_stack(sandbox, env=env, express_duplicate_rate=1.0, **parameters) as local:
        yield local


def test_a_duplicate_loop_changes_nothing(new_user: Any, stack: Any, webform_sandbox: Any) -> None:
    # Given a background update whose download takes 8 s (so its loops hand on to fresh ones, each started twice)
    user: BankUser = new_user(download_seconds=8)
    violations_before = len(webform_sandbox.engine.poll_violations)
    reads_before = task_reads(webform_sandbox)
    # When the user syncs
    started = user.api.trigger(user.connections["DEMO0001"], {})
    update_id = started.json()["updateId"]
    done = user.api.wait_for(update_id, {"SUCCEEDED"}, timeout=90)
    # Then every loop ran twice, but only one of each pair polled: the other ended at its first Poll state
    assert done["status"] == "SUCCEEDED"
    loops = poll_loops(stack, update_id)
    starts = {json.dumps(loop["input"], sort_keys=True) for loop in loops}
    assert len(loops) >= 4 and len(loops) == 2 * len(starts)
    single = [loop for loop in loops if states_entered(loop) == ["Wait", "Poll", "Decide", "Done"]]
    assert len(single) >= len(starts) - 1  # the twins (and at most the last loop, whose one poll saw the end)
    # And finAPI was asked once per poll in the history, never twice within a second
    polls = polls_of(stack, update_id)
    assert task_reads(webform_sandbox) - reads_before == len(polls)
    assert len(webform_sandbox.engine.poll_violations) == violations_before
    # And the update's workflow saw one Poll task, ended once
    assert transitions_of(stack, update_id) == ["Poll"]


def task_reads(webform_sandbox: Any) -> int:
    return sum(n for path, n in webform_sandbox.engine.reads.items() if path.startswith("/api/tasks/"))


def states_entered(loop: dict[str, Any]) -> list[str]:
    return [e["stateEnteredEventDetails"]["name"] for e in loop["events"] if "stateEnteredEventDetails" in e]
