"""Givens and readings for the poll loop's tests: a system with settings of its own, a download under way, single
polls of a loop (as Express runs them, one state at a time), and what finAPI and the workflow saw of them."""

from __future__ import annotations

import re
import uuid
from datetime import datetime

from bankupdate.contract import PollEntry, PollLoopState, PollNext, PollRequest, WorkflowOutput
from finapi_sandbox import SandboxServer
from tests.fakes import InMemoryUserStore
from tests.usecases.conftest import clock_following
from tests.usecases.system import NO_SCA, BankUser, System, access_gateway, settings_for

_CONNECTION_READ = re.compile(r"/bankConnections/\d+$")


def system_with(finapi: SandboxServer, **environment: str) -> System:
    """The use-case system of the ``system`` fixture (Access integration), with these settings changed."""
    clock = clock_following(finapi)
    settings = settings_for(finapi, **environment)
    users = InMemoryUserStore()
    return System(finapi, clock, settings, access_gateway(finapi, settings, clock, users), users)


def downloading(system: System, seconds: float, **connection: object) -> tuple[BankUser, str]:
    """A user-present update whose bank asks for no SCA and whose finAPI download takes ``seconds``: triggered, its
    workflow started, no poll made yet."""
    user = system.new_user(download_seconds=seconds, **connection)
    started = system.trigger(user, credentials=NO_SCA)
    return user, started.update_id


def new_loop(system: System, update_id: str) -> PollLoopState:
    """The input of the poll loop the update's current Poll task started (as Step Functions passes it)."""
    loop = system.workflow.take_loop(update_id)
    assert loop is not None, "no poll loop was started for the update"
    return loop


class ExpressLoop:
    """One execution of the poll loop, run a Poll state at a time (``system.run_loop`` runs a loop to its end): each
    ``poll`` is the Wait of the state's gap, then PollUpdateStatus with this execution's name and start."""

    def __init__(self, system: System, name: str | None = None) -> None:
        self.system = system
        self.execution = name or f"loop-{uuid.uuid4().hex}"
        self.started_at: datetime = system.clock.now()

    def poll(self, state: PollLoopState) -> PollLoopState:
        self.system.clock.advance(state.gap_seconds)
        request = PollRequest(loop=state, execution=self.execution, execution_started_at=self.started_at)
        answer = self.system.use_cases.poll_update_status()(request)
        self.system.polls.append(answer)
        return answer

    def poll_on(self, state: PollLoopState) -> PollLoopState:
        """Poll while the loop says POLL; the state it ends with (CONTINUE or DONE)."""
        while state.next is PollNext.POLL:
            state = self.poll(state)
        return state


def connection_reads(system: System, connection_id: int) -> int:
    """How often finAPI was asked where the connection stands (a poll of the Access update endpoint's download)."""
    return sum(
        1
        for c in system.sandbox.world.calls
        if c.method == "GET" and _CONNECTION_READ.search(c.path) and c.connection_id == connection_id
    )


def output_of(system: System, update_id: str) -> WorkflowOutput:
    """What the update's execution ended with (its Poll task's release, or Finalize's answer)."""
    output = system.workflow.executions[update_id].output
    assert output is not None, "the update's execution has not ended"
    return output


def every_poll(system: System, update_id: str) -> list[PollEntry]:
    """The polls of the update, as its execution history tells them: each hand-back's cause, then the output."""
    execution = system.workflow.executions[update_id]
    polls = [entry for _, detail in execution.hand_backs for entry in detail.polls]
    if execution.output is not None:
        polls += execution.output.polls
    return polls


def states_of(system: System, update_id: str) -> list[str]:
    return system.workflow.executions[update_id].states
