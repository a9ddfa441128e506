"""What every Lambda invocation on the local stack did: its duration, the time it spent waiting on finAPI and on AWS
(moto), the CPU time its own thread used, and the AWS API calls it made. The benchmarks read cost and overhead from
these records.

Measurement only: the functions, finAPI sandbox and moto run unchanged; the meter times calls at their boundaries
(``LocalFunction.run``, ``httpx.Client.send``, botocore's HTTP send) per thread, which is where an invocation runs.

Two clocks, because the local stack runs moto, the finAPI sandbox and the HTTP API in the same process: wall-clock
time of an invocation also holds the moments its thread waited for the GIL while those servers finished their side
of a request, which in AWS run elsewhere. ``time.thread_time()`` counts only what the invocation's own thread
executed, so "own CPU" is the part of an invocation that is ours wherever it runs.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from unittest import mock

import botocore.client
import botocore.endpoint
import httpx

from local_stack.lambdas import LocalFunction


@dataclass
class Invocation:
    function: str
    memory_mb: int
    cold: bool
    seconds: float = 0.0
    finapi_seconds: float = 0.0
    aws_seconds: float = 0.0
    sdk_seconds: float = 0.0
    cpu_seconds: float = 0.0
    io_cpu_seconds: float = 0.0
    sdk_cpu_total_seconds: float = 0.0
    aws_io_cpu_seconds: float = 0.0
    aws_calls: Counter[str] = field(default_factory=Counter)
    finapi_calls: int = 0

    @property
    def own_seconds(self) -> float:
        """Time in our code (and the libraries it drives) beyond the finAPI and AWS round-trips."""
        return self.seconds - self.finapi_seconds - self.aws_seconds

    @property
    def sdk_cpu_seconds(self) -> float:
        """botocore's share of own time: building, signing and parsing requests (the AWS round-trip excluded)."""
        return max(0.0, self.sdk_seconds - self.aws_seconds)

    @property
    def own_cpu_seconds(self) -> float:
        """CPU time of the invocation's thread outside the finAPI and AWS sends (botocore's own work included)."""
        return max(0.0, self.cpu_seconds - self.io_cpu_seconds)

    @property
    def sdk_own_cpu_seconds(self) -> float:
        """botocore's share of own CPU: building, signing and parsing requests."""
        return max(0.0, self.sdk_cpu_total_seconds - self.aws_io_cpu_seconds)

    @property
    def gb_seconds(self) -> float:
        return self.seconds * self.memory_mb / 1024


class Meter:
    def __init__(self) -> None:
        self.invocations: list[Invocation] = []
        self._lock = threading.Lock()
        self._current = threading.local()

    def current(self) -> Invocation | None:
        found: Invocation | None = getattr(self._current, "invocation", None)
        return found

    def for_function(self, logical_id: str) -> list[Invocation]:
        return [i for i in self.invocations if i.function == logical_id]

    def clear(self) -> None:
        with self._lock:
            self.invocations = []


@contextmanager
def metered() -> Iterator[Meter]:
    meter = Meter()
    run, send, aws_send, api_call = (
        LocalFunction.run,
        httpx.Client.send,
        botocore.endpoint.Endpoint._send,
        botocore.client.BaseClient._make_api_call,
    )

    def timed_run(self: LocalFunction, event: Any, context: Any, abandoned: Any) -> Any:
        outer = meter.current()
        record = Invocation(self.logical_id, self.memory, cold=not self._idle)
        meter._current.invocation = record
        started, cpu = time.perf_counter(), time.thread_time()
        try:
            return run(self, event, context, abandoned)
        finally:
            record.seconds = time.perf_counter() - started
            record.cpu_seconds = time.thread_time() - cpu
            meter._current.invocation = outer
            with meter._lock:
                meter.invocations.append(record)

    def timed_send(self: httpx.Client, request: httpx.Request, **kwargs: Any) -> httpx.Response:
        record = meter.current()
        started, cpu = time.perf_counter(), time.thread_time()
        try:
            return send(self, request, **kwargs)
        finally:
            if record is not None:
                record.finapi_seconds += time.perf_counter() - started
                record.io_cpu_seconds += time.thread_time() - cpu
                record.finapi_calls += 1

    def timed_aws_send(self: Any, request: Any) -> Any:
        record = meter.current()
        started, cpu = time.perf_counter(), time.thread_time()
        try:
            return aws_send(self, request)
        finally:
            if record is not None:
                record.aws_seconds += time.perf_counter() - started
                spent = time.thread_time() - cpu
                record.io_cpu_seconds += spent
                record.aws_io_cpu_seconds += spent

    def counted_call(self: Any, operation: str, params: Any) -> Any:
        record = meter.current()
        if record is None:
            return api_call(self, operation, params)
        record.aws_calls[f"{self.meta.service_model.service_name}.{operation}"] += 1
        started, cpu = time.perf_counter(), time.thread_time()
        try:
            return api_call(self, operation, params)
        finally:
            record.sdk_seconds += time.perf_counter() - started
            record.sdk_cpu_total_seconds += time.thread_time() - cpu

    with (
        mock.patch.object(LocalFunction, "run", timed_run),
        mock.patch.object(httpx.Client, "send", timed_send),
        mock.patch.object(botocore.endpoint.Endpoint, "_send", timed_aws_send),
        mock.patch.object(botocore.client.BaseClient, "_make_api_call", counted_call),
    ):
        yield meter
