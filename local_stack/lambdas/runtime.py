"""The Lambda service for the stack's functions: invokes them in-process, each invocation in a thread of its own with
the function's role and environment, held to its timeout, counted, and failed or hung when a test asks for it."""

from __future__ import annotations

import contextlib
import os
import sys
import threading
from collections import defaultdict
from typing import Any

from local_stack.environ import PerInvocationEnviron
from local_stack.iam.authorizer import Authorizer
from local_stack.lambdas.errors import (
    CallerGaveUp,
    FunctionTimedOut,
    InjectedFailure,
    request_within_limit,
    response_within_limit,
)
from local_stack.lambdas.function import InvocationAbandoned, LambdaContext, LocalFunction, abandonable
from local_stack.lambdas.logs import LogCapture
from local_stack.lambdas.moto_backend import invocations_handed_to


def _run(function: LocalFunction, event: Any, context: Any, abandoned: threading.Event, *, stall: bool) -> Any:
    if stall:
        abandoned.wait()  # stuck until Lambda gives up on it
        raise InvocationAbandoned("the invocation ran past its timeout")
    return function.run(event, context, abandoned)


class FunctionRuntime:
    def __init__(self, echo_logs: bool, time_scale: float = 1.0) -> None:
        self.functions: dict[str, LocalFunction] = {}
        self.capture = LogCapture(sys.__stdout__ or sys.stdout, echo_logs)
        self.time_scale = time_scale
        self.authorizer: Authorizer | None = None
        self._http_turns = threading.Lock()
        self._patch: Any = None
        self._environ: PerInvocationEnviron | None = None
        self._defined: frozenset[str] = frozenset()  # every name some function's environment defines
        self.invocations: dict[str, int] = defaultdict(int)  # by logical id, like CloudWatch's Invocations metric
        self._failures: dict[str, list[str]] = defaultdict(list)  # by logical id: Lambda errors still to come
        self._stalls: dict[str, int] = defaultdict(int)  # by logical id: invocations still to hang
        self._published: dict[str, str | None] = {}  # the process's values before the functions' own, for stop()

    # ---------------------------------------------------------------------------------------------- functions

    def add(self, function: LocalFunction) -> None:
        self.functions[function.name] = function
        self._defined |= frozenset(function.environment)

    def by_logical_id(self, logical_id: str) -> LocalFunction:
        for function in self.functions.values():
            if function.logical_id == logical_id:
                return function
        raise KeyError(logical_id)

    # ---------------------------------------------------------------------------------------------- faults

    def stall_next(self, logical_id: str, times: int = 1) -> None:
        """The function's next ``times`` invocations hang past their timeout before the handler runs (a stuck
        runtime): Lambda ends them with ``Sandbox.Timedout``, as any invocation that outlives its timeout."""
        self._stalls[logical_id] += times

    def fail_next(self, logical_id: str, error_type: str = "Lambda.Unknown", times: int = 1) -> None:
        """The function's next ``times`` invocations fail as Lambda fails them, before the handler runs (a crashed
        runtime is ``Lambda.Unknown`` to Step Functions; a throttle ``Lambda.TooManyRequestsException``)."""
        self._failures[logical_id] += [error_type] * times

    def _count_and_fail(self, function: LocalFunction) -> bool:
        """Count the invocation; raise the failure a test injected for it; whether it is to hang (``stall_next``)."""
        self.invocations[function.logical_id] += 1
        if self._failures[function.logical_id]:
            raise InjectedFailure(self._failures[function.logical_id].pop(0))
        if self._stalls[function.logical_id] <= 0:
            return False
        self._stalls[function.logical_id] -= 1
        return True

    # ---------------------------------------------------------------------------------------------- invoking

    def invoke(self, function: LocalFunction, event: Any, *, caller_limit: float | None = None) -> Any:
        """Run one invocation; Lambda's errors as exceptions (FunctionError for what Lambda reports as such).

        ``caller_limit`` (seconds, already scaled) is how long the caller waits: past it CallerGaveUp is raised while
        the invocation goes on until it ends or its own timeout abandons it.
        """
        request_within_limit(event)
        # Powertools' HTTP resolver keeps the current event in a class attribute: fine in Lambda (one invocation
        # per process), wrong for threads in one process. HTTP invocations therefore take turns here; the turn ends
        # when the invocation does (or is abandoned), not when its caller stops waiting.
        turn = self._http_turns if isinstance(event, dict) and "requestContext" in event else None
        stall = self._count_and_fail(function)
        if turn is not None:
            turn.acquire()
        self._publish(function.environment)
        context = LambdaContext(function, self.time_scale)
        done, abandoned = threading.Event(), threading.Event()
        outcome: dict[str, Any] = {}
        ending = threading.Lock()

        def finish(timed_out: bool) -> None:
            with ending:
                if done.is_set():
                    return
                if timed_out:
                    abandoned.set()
                    after = f"{function.timeout:.2f}"
                    outcome["error"] = FunctionTimedOut(
                        f"RequestId: {context.aws_request_id} Error: Task timed out after {after} seconds"
                    )
                if turn is not None:
                    turn.release()
                done.set()

        def run() -> None:
            self.capture.current.function = function.logical_id
            try:
                with (
                    abandonable(abandoned),
                    self.authorizer.acting_as(function.principal) if self.authorizer else contextlib.nullcontext(),
                    self._environment_of(function),
                ):
                    self.capture.route_loggers()
                    outcome["result"] = _run(function, event, context, abandoned, stall=stall)
            except InvocationAbandoned:
                pass
            except Exception as error:
                outcome["error"] = error
            finally:
                self.capture.current.function = None
                finish(timed_out=False)

        timer = threading.Timer(function.timeout * self.time_scale, finish, kwargs={"timed_out": True})
        timer.daemon = True
        timer.start()
        threading.Thread(target=run, name=f"lambda-{function.logical_id}", daemon=True).start()
        if not done.wait(caller_limit):
            raise CallerGaveUp(f"{function.name} still running after {caller_limit} s")
        timer.cancel()
        if "error" in outcome:
            raise outcome["error"]
        return response_within_limit(outcome.get("result"))

    # ---------------------------------------------------------------------------------------------- environments

    def _publish(self, environment: dict[str, str]) -> None:
        """The last invoked function's environment is also the process's, outside any invocation: code a test runs
        itself (seeding records through the adapters) finds the stack's tables that way. stop() takes it back, so
        the next stack in this process never finds one of this stack's settings (a loop limit, a table name)."""
        process = self._environ.process if self._environ is not None else os.environ
        for name, value in environment.items():
            if name not in self._published:
                self._published[name] = process.get(name)
            process[name] = value

    def _environment_of(self, function: LocalFunction) -> contextlib.AbstractContextManager[None]:
        if self._environ is None:
            return contextlib.nullcontext()
        return self._environ.of_function(function.environment, self._defined)

    # ---------------------------------------------------------------------------------------------- lifecycle

    def start(self) -> None:
        if not isinstance(os.environ, PerInvocationEnviron):
            self._environ = PerInvocationEnviron(os.environ)
            os.environ = self._environ  # type: ignore[assignment]  # noqa: B003 (a view, not a clearing)
        self.capture.install()
        self._patch = invocations_handed_to(self.functions.get, self.invoke)
        self._patch.start()

    def stop(self) -> None:
        if self._environ is not None and os.environ is self._environ:
            os.environ = self._environ.process  # type: ignore[assignment]  # noqa: B003
        self._environ = None
        for name, value in self._published.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        self._published.clear()
        if self._patch is not None:
            self._patch.stop()
            self._patch = None
        self.capture.uninstall()
