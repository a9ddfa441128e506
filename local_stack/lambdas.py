"""Lambda functions run in-process: moto's Lambda backend hands every invocation to the real handler."""

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

from moto.awslambda_simple.models import LambdaSimpleBackend

from local_stack.template import ACCOUNT_ID, REGION


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

    def run(self, event: Any, context: Any) -> Any:
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
            with self._lock:
                self._idle.append(module)


class LambdaContext:
    """What the Lambda runtime hands a handler (enough for Powertools)."""

    def __init__(self, function: LocalFunction) -> None:
        self.function_name = function.name
        self.function_version = "$LATEST"
        self.invoked_function_arn = function.arn
        self.memory_limit_in_mb = function.memory
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{function.name}"
        self.log_stream_name = f"local/{self.aws_request_id}"
        self._deadline = time.monotonic() + function.timeout

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


class FunctionRuntime:
    def __init__(self, echo_logs: bool) -> None:
        self.functions: dict[str, LocalFunction] = {}
        self.capture = LogCapture(sys.__stdout__ or sys.stdout, echo_logs)
        self._original: tuple[TextIO, TextIO] | None = None
        self._http_turns = threading.Lock()
        self._patch: Any = None
        self.invocations: dict[str, int] = defaultdict(int)  # by logical id, like CloudWatch's Invocations metric

    def add(self, function: LocalFunction) -> None:
        self.functions[function.name] = function

    def by_logical_id(self, logical_id: str) -> LocalFunction:
        for function in self.functions.values():
            if function.logical_id == logical_id:
                return function
        raise KeyError(logical_id)

    def _route_streams(self) -> None:
        """Loggers created before the stack started (Powertools keeps its stream) write to the capture too."""
        for logger in [logging.getLogger(), *(logging.getLogger(n) for n in list(logging.root.manager.loggerDict))]:
            for handler in getattr(logger, "handlers", []):
                if isinstance(handler, logging.StreamHandler) and handler.stream in (
                    sys.__stdout__,
                    sys.__stderr__,
                    self._original[0] if self._original else None,
                ):
                    handler.setStream(self.capture)

    def invoke(self, function: LocalFunction, event: Any) -> Any:
        # Powertools' HTTP resolver keeps the current event in a class attribute: fine in Lambda (one invocation
        # per process), wrong for threads in one process. HTTP invocations therefore take turns here.
        serialised = isinstance(event, dict) and "requestContext" in event
        self.invocations[function.logical_id] += 1
        with self._http_turns if serialised else contextlib.nullcontext():
            os.environ.update(function.environment)
            self.capture.current.function = function.logical_id
            try:
                self._route_streams()
                return function.run(event, LambdaContext(function))
            finally:
                self.capture.current.function = None

    def start(self) -> None:
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
        if self._patch is not None:
            self._patch.stop()
            self._patch = None
        if self._original is not None:
            sys.stdout = self._original[0]
            for logger in [logging.getLogger(), *(logging.getLogger(n) for n in list(logging.root.manager.loggerDict))]:
                for handler in getattr(logger, "handlers", []):
                    if isinstance(handler, logging.StreamHandler) and handler.stream is self.capture:
                        handler.setStream(sys.__stdout__)
