"""In-memory implementations of the ports in ``bankupdate.ports`` (every one but ``BankGateway``: finAPI is the
project's sandbox simulator). ``tests/contract`` holds each store fake and its DynamoDB adapter to the same behaviour,
so a use case that works on the fakes works on the adapters."""

from tests.fakes.changes import InMemoryChangeLog
from tests.fakes.clock import ManualClock
from tests.fakes.connections import ConnectionItems, InMemoryConnectionStore, InMemoryScheduleStore
from tests.fakes.cursor_keys import StaticCursorKeys
from tests.fakes.events import RecordingEventBus
from tests.fakes.idempotency import InMemoryIdempotencyStore
from tests.fakes.queue import RecordingDueQueue
from tests.fakes.updates import InMemoryUpdateStore
from tests.fakes.users import InMemoryUserStore
from tests.fakes.workflow import FakeWorkflow

__all__ = [
    "ConnectionItems",
    "FakeWorkflow",
    "InMemoryChangeLog",
    "InMemoryConnectionStore",
    "InMemoryIdempotencyStore",
    "InMemoryScheduleStore",
    "InMemoryUpdateStore",
    "InMemoryUserStore",
    "ManualClock",
    "RecordingDueQueue",
    "RecordingEventBus",
    "StaticCursorKeys",
]
