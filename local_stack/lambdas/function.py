"""A function as Lambda runs it: its warm execution environments, the context its handler gets, and the freeze of an
invocation that outlived its timeout."""

from __future__ import annotations

import importlib.util
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from local_stack.iam.policy import Principal
from local_stack.template import ACCOUNT_ID, REGION


class InvocationAbandoned(BaseException):
    """Raised into an invocation that outlived its timeout at its next AWS or HTTP call (not an Exception: the
    handler's own ``except Exception`` must not catch what would be Lambda freezing the environment)."""


_INVOCATION = threading.local()


@contextmanager
def abandonable(abandoned: threading.Event) -> Iterator[None]:
    """This thread runs an invocation that ends at its next AWS or HTTP call once ``abandoned`` is set."""
    _INVOCATION.abandoned = abandoned
    try:
        yield
    finally:
        _INVOCATION.abandoned = None


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
