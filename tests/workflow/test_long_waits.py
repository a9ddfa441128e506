"""Gaps longer than the hand-over: the Standard workflow waits them (a Wait state) and a fresh poll loop polls after.

Here a gap is handed over from 2 s on, and gaps are half the download's age (the deployment: from ~73 s, the break-even
of Express seconds against the hand-over's transitions, with gaps of 12 %)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import BankUser, running_stack
from tests.support.workflow import poll_loops, polls_of, transitions_of

NO_SCA = [{"label": "Onlinebanking-ID", "value": "demo_no_msa"}, {"label": "PIN", "value": "demo_no_msa"}]
LONG_GAPS = {"POLL_LAG_RATIO": "0.5", "POLL_HAND_OVER_GAP_SECONDS": "2", "POLL_MAX_GAP_SECONDS": "30"}


@pytest.fixture(scope="module")
def stack(sandbox: Any) -> Iterator[Any]:
    with running_stack(sandbox, env=LONG_GAPS) as local:
        yield local


def test_a_long_gap_is_a_wait_state_of_the_update_workflow(new_user: Any, stack: Any) -> None:
    # Given a download of 8 s
    user: BankUser = new_user(download_seconds=8)
    # When the user syncs
    started = user.api.trigger(user.connections["DEMO0001"], {"interface": "XS2A", "loginCredentials": NO_SCA})
    update_id = started.json()["updateId"]
    user.api.wait_for(update_id, {"SUCCEEDED"}, timeout=90)
    # Then the first gaps were waited in the poll loop, the longer ones in the update workflow's WaitLonger
    transitions = transitions_of(stack, update_id)
    assert transitions[:3] == ["Poll", "ReadWait", "WaitLonger"] and transitions[-1] == "Poll"
    assert transitions.count("WaitLonger") == transitions.count("Poll") - 1
    # And each hand-over started a fresh loop, whose polls the history lists with the rest
    assert len(poll_loops(stack, update_id)) == transitions.count("Poll")
    polls = polls_of(stack, update_id)
    handed_over = [p["waitSeconds"] for p in polls[:-1] if p["waitSeconds"] > 2]
    assert handed_over and polls[-1]["saw"] == "READY"
