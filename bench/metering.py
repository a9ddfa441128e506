"""What every Lambda invocation on the local stack did: its duration and CPU time, the time it waited on finAPI and
on AWS (moto), the AWS API calls it made with the DynamoDB capacity units and SQS payload chunks they bill, and the
update ids it touched. The benchmarks read cost, latency and overhead from these records.

Measurement only: the functions, finAPI sandbox and moto run unchanged; the meter times calls at their boundaries
(``LocalFunction.run``, ``httpx.Client.send``, botocore's API call and HTTP send) per thread, which is where an
invocation runs.

Two clocks, because the local stack runs moto, the finAPI sandbox and the HTTP API in the same process: wall-clock
time of an invocation also holds the moments its thread waited for the GIL while those servers finished their side
of a request, which in AWS run elsewhere. ``time.thread_time()`` counts only what the invocation's own thread
executed (our code, botocore and httpx), which is what the invocation's CPU would be in AWS.

``time.sleep`` is timed too: the clock the core waits through takes it when the first invocation builds the adapters,
so the meter must be running before the stack's first invocation for a sleep inside an invocation to be seen (the
bench checks that no poll gap is slept in Lambda: every gap is a Wait state).

finAPI tokens are cached per function while metered (``_Boundaries.scoped``): the local stack's functions share one
process, and with it the token cache that in AWS each function's environments keep for themselves.

DynamoDB capacity is not what moto reports (a constant): the meter reads the item before and after every write from
moto's backend and applies DynamoDB's rules (``bench/capacity.py``), global secondary index writes included.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from typing import Any
from unittest import mock

import botocore.client
import botocore.endpoint
import httpx

from bench import capacity
from local_stack.lambdas import LocalFunction, LogCapture

_ID = re.compile(r"[0-9a-f]{32}")
_PATH_ID = re.compile(r"/(?:\d+|[0-9a-f-]{32,36}|[A-Za-z0-9_-]{40,})(?=/|$)")
_SQS_CHUNK_BYTES = 64 * 1024


@dataclass
class Invocation:
    function: str
    memory_mb: int
    cold: bool
    started: float = 0.0  # time.perf_counter() at the start
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
    ids: set[str] = field(default_factory=set)  # update ids (and other 32-hex ids) in the event and the AWS calls
    read_units: float = 0.0
    write_units: float = 0.0
    index_write_units: float = 0.0
    sqs_chunks: int = 0  # 64 KB chunks of the messages sent (SQS bills each chunk as a request)
    event_chunks: int = 0  # 64 KB chunks of the events put (EventBridge bills each chunk as an event)
    log_bytes: int = 0  # what the function wrote to its log (CloudWatch Logs bills ingestion by the byte)
    slept_seconds: float = 0.0  # time.sleep inside the invocation (a gap slept in Lambda: none in this design)
    finapi_requests: Counter[str] = field(default_factory=Counter)  # "GET /api/v1/bankConnections/{id}" -> count

    @property
    def own_seconds(self) -> float:
        """Time in our code (and the libraries it drives) beyond the finAPI and AWS round-trips."""
        return self.seconds - self.finapi_seconds - self.aws_seconds

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

    def of_update(self, update_id: str) -> list[Invocation]:
        with self._lock:
            return [i for i in self.invocations if update_id in i.ids]

    def clear(self) -> None:
        with self._lock:
            self.invocations = []


def _ids_in(value: Any) -> set[str]:
    try:
        text = value if isinstance(value, str) else json.dumps(value, default=str)
    except (TypeError, ValueError):
        return set()
    return set(_ID.findall(text))


def _route(request: httpx.Request) -> str:
    return f"{request.method} {_PATH_ID.sub('/{id}', request.url.path)}"


def _chunks(text: str | bytes | None) -> int:
    size = len(text.encode() if isinstance(text, str) else (text or b""))
    return max(1, -(-size // _SQS_CHUNK_BYTES))


class _Boundaries:
    """The timed boundaries: each wraps the original and books what it saw onto the thread's invocation."""

    def __init__(self, meter: Meter) -> None:
        from bankupdate.finapi.auth import TokenCache

        self.meter = meter
        self.sleep = time.sleep
        self.token = TokenCache.token
        self.forget = TokenCache.forget
        self.write = LogCapture.write
        self.run = LocalFunction.run
        self.send = httpx.Client.send
        self.aws_send = botocore.endpoint.Endpoint._send
        self.api_call = botocore.client.BaseClient._make_api_call

    def patches(self) -> list[Any]:
        boundaries = self

        def write(capture: LogCapture, text: str) -> int:
            return boundaries.counted_write(capture, text)

        def run(function: LocalFunction, event: Any, context: Any, abandoned: Any) -> Any:
            return boundaries.timed_run(function, event, context, abandoned)

        def send(client: httpx.Client, request: httpx.Request, **kwargs: Any) -> httpx.Response:
            return boundaries.timed_send(client, request, **kwargs)

        def aws_send(endpoint: Any, request: Any) -> Any:
            return boundaries.timed_aws_send(endpoint, request)

        def api_call(client: Any, operation: str, params: Any) -> Any:
            return boundaries.counted_call(client, operation, params)

        def sleep(seconds: float) -> None:
            boundaries.timed_sleep(seconds)

        def token(cache: Any, key: str, grant: Any) -> Any:
            return boundaries.token(cache, boundaries.scoped(key), grant)

        def forget(cache: Any, key: str) -> None:
            boundaries.forget(cache, boundaries.scoped(key))

        from bankupdate.finapi.auth import TokenCache

        return [
            mock.patch.object(time, "sleep", sleep),
            mock.patch.object(TokenCache, "token", token),
            mock.patch.object(TokenCache, "forget", forget),
            mock.patch.object(LogCapture, "write", write),
            mock.patch.object(LocalFunction, "run", run),
            mock.patch.object(httpx.Client, "send", send),
            mock.patch.object(botocore.endpoint.Endpoint, "_send", aws_send),
            mock.patch.object(botocore.client.BaseClient, "_make_api_call", api_call),
        ]

    def scoped(self, key: str) -> str:
        """finAPI tokens cached per function: in AWS every function (every environment) has a cache of its own,
        here the functions share the process and with it the core package's caches."""
        record = self.meter.current()
        return f"{record.function}|{key}" if record is not None else key

    def timed_sleep(self, seconds: float) -> None:
        record = self.meter.current()
        started = time.perf_counter()
        try:
            self.sleep(seconds)
        finally:
            if record is not None:
                record.slept_seconds += time.perf_counter() - started

    def counted_write(self, capture: LogCapture, text: str) -> int:
        record = self.meter.current()
        if record is not None and getattr(capture.current, "function", None) is not None:
            record.log_bytes += len(text.encode())
        return self.write(capture, text)

    def timed_run(self, function: LocalFunction, event: Any, context: Any, abandoned: Any) -> Any:
        meter = self.meter
        outer = meter.current()
        record = Invocation(function.logical_id, function.memory, cold=not function._idle, ids=_ids_in(event))
        meter._current.invocation = record
        record.started = time.perf_counter()
        cpu = time.thread_time()
        try:
            return self.run(function, event, context, abandoned)
        finally:
            record.seconds = time.perf_counter() - record.started
            record.cpu_seconds = time.thread_time() - cpu
            meter._current.invocation = outer
            with meter._lock:
                meter.invocations.append(record)

    def timed_send(self, client: httpx.Client, request: httpx.Request, **kwargs: Any) -> httpx.Response:
        record = self.meter.current()
        started, cpu = time.perf_counter(), time.thread_time()
        try:
            return self.send(client, request, **kwargs)
        finally:
            if record is not None:
                record.finapi_seconds += time.perf_counter() - started
                record.io_cpu_seconds += time.thread_time() - cpu
                record.finapi_calls += 1
                record.finapi_requests[_route(request)] += 1

    def timed_aws_send(self, endpoint: Any, request: Any) -> Any:
        record = self.meter.current()
        started, cpu = time.perf_counter(), time.thread_time()
        try:
            return self.aws_send(endpoint, request)
        finally:
            if record is not None:
                record.aws_seconds += time.perf_counter() - started
                spent = time.thread_time() - cpu
                record.io_cpu_seconds += spent
                record.aws_io_cpu_seconds += spent

    def counted_call(self, client: Any, operation: str, params: Any) -> Any:
        record = self.meter.current()
        if record is None:
            return self.api_call(client, operation, params)
        service = client.meta.service_model.service_name
        record.aws_calls[f"{service}.{operation}"] += 1
        record.ids |= _ids_in(params)
        if service == "sqs" and operation == "SendMessage":
            record.sqs_chunks += _chunks(params.get("MessageBody"))
        if service == "events" and operation == "PutEvents":
            record.event_chunks += sum(_chunks(json.dumps(entry)) for entry in params.get("Entries", []))
        before = capacity.before(operation, params) if service == "dynamodb" else None
        started, cpu = time.perf_counter(), time.thread_time()
        answer: Any = None
        try:
            answer = self.api_call(client, operation, params)
            return answer
        finally:
            record.sdk_seconds += time.perf_counter() - started
            record.sdk_cpu_total_seconds += time.thread_time() - cpu
            if service == "dynamodb":
                units = capacity.consumed(operation, params, before, answer, succeeded=answer is not None)
                record.read_units += units.read
                record.write_units += units.write
                record.index_write_units += units.index_write


@contextmanager
def metered() -> Iterator[Meter]:
    meter = Meter()
    with ExitStack() as patched:
        for patch in _Boundaries(meter).patches():
            patched.enter_context(patch)
        yield meter
