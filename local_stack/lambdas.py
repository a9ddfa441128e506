"""Lambda functions run in-process: moto's Lambda backend hands every invocation to the real handler.

Each invocation runs in a thread of its own with the function's role as the caller of every AWS call it makes, and
is held to Lambda's limits: past its ``Timeout`` the caller gets Lambda's timeout error and the invocation is
abandoned (its next AWS or HTTP call ends it, as Lambda's freeze would; its environment is not reused), and request
and response payloads above 6 MB are refused.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import json
import logging
import os
import sys
import threading
import time
import traceback
import uuid
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any, TextIO
from unittest import mock

from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter
from moto.awslambda_simple.models import LambdaSimpleBackend

from local_stack.environ import PerInvocationEnviron
from local_stack.iam.authorizer import Authorizer
from local_stack.iam.policy import Principal
from local_stack.template import ACCOUNT_ID, REGION

# Lambda's synchronous payload quotas (bytes), as its errors state them.
MAX_REQUEST_BYTES = 6_291_456
MAX_RESPONSE_BYTES = 6_291_556


class FunctionError(Exception):
    """An invocation that failed the way Lambda reports it (FunctionError "Unhandled" with this errorType)."""

    error_type = "Unhandled"


class InjectedFailure(FunctionError):
    def __init__(self, error_type: str) -> None:
        super().__init__(f"{error_type}: injected by the test")
        self.error_type = error_type


class FunctionTimedOut(FunctionError):
    error_type = "Sandbox.Timedout"


class ResponseTooLarge(FunctionError):
    error_type = "Function.ResponseSizeTooLarge"


class RequestTooLarge(Exception):
    """Lambda refuses the Invoke call itself (RequestEntityTooLargeException, HTTP 413)."""


class CallerGaveUp(Exception):
    """The caller stopped waiting before the function ended (API Gateway's integration timeout)."""


class InvocationAbandoned(BaseException):
    """Raised into an invocation that outlived its timeout at its next AWS or HTTP call (not an Exception: the
    handler's own ``except Exception`` must not catch what would be Lambda freezing the environment)."""


_INVOCATION = threading.local()


def check_not_abandoned() -> None:
    """Called before every AWS and HTTP call a handler makes."""
    abandoned: threading.Event | None = getattr(_INVOCATION, "abandoned", None)
    if abandoned is not None and abandoned.is_set():
        raise InvocationAbandoned("the invocation ran past its timeout")


@dataclass
class LocalFunction:
    """A function and its warm execution environments.

    Lambda runs one invocation at a time per environment and starts more environments for concurrent calls; module
    globals (a resolver's current event, a batch processor) are per environment. So each concurrent invocation gets
    its own loaded copy of the handler module, reused warm afterwards.
    """

    logical_id: str
    name: str
    handler: str
    code_dir: Path
    environment: dict[str, str]
    timeout: int
    memory: int
    role_arn: str = ""
    principal: Principal | None = None
    _idle: list[ModuleType] = field(default_factory=list, repr=False)
    _loaded: int = field(default=0, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def arn(self) -> str:
        return f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{self.name}"

    def _load(self) -> ModuleType:
        module_name = self.handler.rsplit(".", 1)[0]
        path = self.code_dir / f"{module_name.replace('.', '/')}.py"
        spec = importlib.util.spec_from_file_location(f"local_stack_fn_{self.logical_id}_{self._loaded}", path)
        if spec is None or spec.loader is None:
            raise RuntimeError(f"cannot load {path}")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module

    def run(self, event: Any, context: Any, abandoned: threading.Event) -> Any:
        with self._lock:
            module = self._idle.pop() if self._idle else None
            if module is None:
                self._loaded += 1
        if module is None:
            module = self._load()
        try:
            entry: Callable[[Any, Any], Any] = getattr(module, self.handler.rsplit(".", 1)[1])
            return entry(event, context)
        finally:
            if not abandoned.is_set():  # after a timeout Lambda starts a fresh environment
                with self._lock:
                    self._idle.append(module)


class LambdaContext:
    """What the Lambda runtime hands a handler (enough for Powertools)."""

    def __init__(self, function: LocalFunction, time_scale: float = 1.0) -> None:
        self.function_name = function.name
        self.function_version = "$LATEST"
        self.invoked_function_arn = function.arn
        self.memory_limit_in_mb = function.memory
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{function.name}"
        self.log_stream_name = f"local/{self.aws_request_id}"
        self._deadline = time.monotonic() + function.timeout * time_scale

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


class LogCapture(io.TextIOBase):
    """Tees everything written to stdout/stderr and records it per function, like CloudWatch Logs would."""

    def __init__(self, target: TextIO, echo: bool) -> None:
        self._target = target
        self._echo = echo
        self.current = threading.local()
        self.lines: dict[str | None, list[str]] = defaultdict(list)
        self._lock = threading.Lock()

    def write(self, text: str) -> int:
        function = getattr(self.current, "function", None)
        if function is None:  # not a Lambda's output: the caller's own printing passes straight through
            self._target.write(text)
            return len(text)
        with self._lock:
            self.lines[function].append(text)
        if self._echo:
            self._target.write(text)
        return len(text)

    def flush(self) -> None:
        self._target.flush()


def _within_response_limit(result: Any) -> Any:
    if len(json.dumps(result).encode()) > MAX_RESPONSE_BYTES:
        raise ResponseTooLarge(
            f"Response payload size exceeded maximum allowed payload size ({MAX_RESPONSE_BYTES} bytes)."
        )
    return result


def _run(function: LocalFunction, event: Any, context: Any, abandoned: threading.Event, *, stall: bool) -> Any:
    if stall:
        abandoned.wait()  # stuck until Lambda gives up on it
        check_not_abandoned()
    return function.run(event, context, abandoned)


class FunctionRuntime:
    def __init__(self, echo_logs: bool, time_scale: float = 1.0) -> None:
        self.functions: dict[str, LocalFunction] = {}
        self.capture = LogCapture(sys.__stdout__ or sys.stdout, echo_logs)
        self.time_scale = time_scale
        self.authorizer: Authorizer | None = None
        self._original: tuple[TextIO, TextIO] | None = None
        self._http_turns = threading.Lock()
        self._patch: Any = None
        self._environ: PerInvocationEnviron | None = None
        self._defined: frozenset[str] = frozenset()  # every name some function's environment defines
        self.invocations: dict[str, int] = defaultdict(int)  # by logical id, like CloudWatch's Invocations metric
        self._failures: dict[str, list[str]] = defaultdict(list)  # by logical id: Lambda errors still to come
        self._stalls: dict[str, int] = defaultdict(int)  # by logical id: invocations still to hang
        self._published: dict[str, str | None] = {}  # the process's values before the functions' own, for stop()

    def _count_and_fail(self, function: LocalFunction) -> bool:
        """Count the invocation; raise the failure a test injected for it; whether it is to hang (``stall_next``)."""
        self.invocations[function.logical_id] += 1
        if self._failures[function.logical_id]:
            raise InjectedFailure(self._failures[function.logical_id].pop(0))
        return self._take_stall(function)

    def _take_stall(self, function: LocalFunction) -> bool:
        if self._stalls[function.logical_id] <= 0:
            return False
        self._stalls[function.logical_id] -= 1
        return True

    def stall_next(self, logical_id: str, times: int = 1) -> None:
        """The function's next ``times`` invocations hang past their timeout before the handler runs (a stuck
        runtime): Lambda ends them with ``Sandbox.Timedout``, as any invocation that outlives its timeout."""
        self._stalls[logical_id] += times

    def fail_next(self, logical_id: str, error_type: str = "Lambda.Unknown", times: int = 1) -> None:
        """The function's next ``times`` invocations fail as Lambda fails them, before the handler runs (a crashed
        runtime is ``Lambda.Unknown`` to Step Functions; a throttle ``Lambda.TooManyRequestsException``)."""
        self._failures[logical_id] += [error_type] * times

    def add(self, function: LocalFunction) -> None:
        self.functions[function.name] = function
        self._defined |= frozenset(function.environment)

    def by_logical_id(self, logical_id: str) -> LocalFunction:
        for function in self.functions.values():
            if function.logical_id == logical_id:
                return function
        raise KeyError(logical_id)

    def _route_streams(self) -> None:
        """Loggers created before the stack started write to the capture too: Powertools keeps the stream it found
        when its Logger was made (the console, or a test runner's capture if the code was first imported there);
        in Lambda that stream is the function's log."""
        for logger in [logging.getLogger(), *(logging.getLogger(n) for n in list(logging.root.manager.loggerDict))]:
            for handler in getattr(logger, "handlers", []):
                if not isinstance(handler, logging.StreamHandler) or handler.stream is self.capture:
                    continue
                consoles = (sys.__stdout__, sys.__stderr__, self._original[0] if self._original else None)
                if handler.stream in consoles or isinstance(handler.formatter, LambdaPowertoolsFormatter):
                    handler.setStream(self.capture)

    def invoke(self, function: LocalFunction, event: Any, *, caller_limit: float | None = None) -> Any:
        """Run one invocation; Lambda's errors as exceptions (FunctionError for what Lambda reports as such).

        ``caller_limit`` (seconds, already scaled) is how long the caller waits: past it CallerGaveUp is raised while
        the invocation goes on until it ends or its own timeout abandons it.
        """
        request = json.dumps(event).encode()
        if len(request) > MAX_REQUEST_BYTES:
            raise RequestTooLarge(
                f"Request must be smaller than {MAX_REQUEST_BYTES} bytes for the InvokeFunction operation"
            )
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
            _INVOCATION.abandoned = abandoned
            try:
                with (
                    self.authorizer.acting_as(function.principal) if self.authorizer else contextlib.nullcontext(),
                    self._environment_of(function),
                ):
                    self._route_streams()
                    outcome["result"] = _run(function, event, context, abandoned, stall=stall)
            except InvocationAbandoned:
                pass
            except Exception as error:
                outcome["error"] = error
            finally:
                self.capture.current.function = None
                _INVOCATION.abandoned = None
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
        return _within_response_limit(outcome.get("result"))

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

    def start(self) -> None:
        if not isinstance(os.environ, PerInvocationEnviron):
            self._environ = PerInvocationEnviron(os.environ)
            os.environ = self._environ  # type: ignore[assignment]  # noqa: B003 (a view, not a clearing)
        self._original = (sys.stdout, sys.stderr)
        sys.stdout = self.capture
        runtime = self

        def invoke(
            backend: LambdaSimpleBackend,
            function_name: str,
            qualifier: Any,
            body: Any,
            headers: Any,
            response_headers: Any,
        ) -> bytes:
            name = function_name.rsplit(":", 1)[-1] if function_name.startswith("arn:") else function_name
            function = runtime.functions.get(name)
            if function is None:
                response_headers["x-amz-function-error"] = "Unhandled"
                return json.dumps({"errorType": "ResourceNotFoundException", "errorMessage": name}).encode()
            payload = json.loads(body) if body else {}
            try:
                result = runtime.invoke(function, payload)
            except FunctionError as error:  # Lambda's own errors carry Lambda's names
                response_headers["x-amz-function-error"] = "Unhandled"
                return json.dumps({"errorType": error.error_type, "errorMessage": str(error)}).encode()
            except Exception as error:  # Lambda reports the class name: that is what ASL Retry/Catch match on
                response_headers["x-amz-function-error"] = "Unhandled"
                return json.dumps(
                    {
                        "errorType": type(error).__name__,
                        "errorMessage": str(error),
                        "stackTrace": traceback.format_tb(error.__traceback__)[-5:],
                    }
                ).encode()
            return json.dumps(result).encode()

        self._patch = mock.patch.object(LambdaSimpleBackend, "invoke", invoke)
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
        if self._original is not None:
            sys.stdout = self._original[0]
            for logger in [logging.getLogger(), *(logging.getLogger(n) for n in list(logging.root.manager.loggerDict))]:
                for handler in getattr(logger, "handlers", []):
                    if isinstance(handler, logging.StreamHandler) and handler.stream is self.capture:
                        handler.setStream(sys.__stdout__)
