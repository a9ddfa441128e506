"""The functions' logs: what an invocation writes to stdout, or logs through a logger, is recorded per function as
CloudWatch Logs would have it; the process's own output passes through."""

from __future__ import annotations

import io
import logging
import sys
import threading
from collections import defaultdict
from collections.abc import Iterator
from typing import Any, TextIO

from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter


def _stream_handlers() -> Iterator[logging.StreamHandler[Any]]:
    for logger in [logging.getLogger(), *(logging.getLogger(n) for n in list(logging.root.manager.loggerDict))]:
        for handler in getattr(logger, "handlers", []):
            if isinstance(handler, logging.StreamHandler):
                yield handler


class LogCapture(io.TextIOBase):
    """Tees everything written to stdout/stderr and records it per function, like CloudWatch Logs would."""

    def __init__(self, target: TextIO, echo: bool) -> None:
        self._target = target
        self._echo = echo
        self.current = threading.local()
        self.lines: dict[str | None, list[str]] = defaultdict(list)
        self._lock = threading.Lock()
        self._original: tuple[TextIO, TextIO] | None = None

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

    def install(self) -> None:
        self._original = (sys.stdout, sys.stderr)
        sys.stdout = self

    def route_loggers(self) -> None:
        """Loggers created before the stack started write to the capture too: Powertools keeps the stream it found
        when its Logger was made (the console, or a test runner's capture if the code was first imported there);
        in Lambda that stream is the function's log."""
        consoles = (sys.__stdout__, sys.__stderr__, self._original[0] if self._original else None)
        for handler in _stream_handlers():
            if handler.stream is self:
                continue
            if handler.stream in consoles or isinstance(handler.formatter, LambdaPowertoolsFormatter):
                handler.setStream(self)

    def uninstall(self) -> None:
        if self._original is None:
            return
        sys.stdout = self._original[0]
        for handler in _stream_handlers():
            if handler.stream is self:
                handler.setStream(sys.__stdout__)
