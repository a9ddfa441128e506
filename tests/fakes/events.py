"""``EventBus`` that keeps what was published, each event serialised as the EventBridge adapter sends it."""

from __future__ import annotations

import json
import threading
from typing import Any, TypeVar

from bankupdate.domain.events import OutcomeEvent

E = TypeVar("E", bound=OutcomeEvent)


class RecordingEventBus:
    def __init__(self) -> None:
        self.events: list[OutcomeEvent] = []
        self.details: list[tuple[str, dict[str, Any]]] = []  # (detail type, detail) as the bus would carry them
        self._lock = threading.Lock()

    def publish(self, event: OutcomeEvent) -> None:
        detail = json.loads(event.model_dump_json(by_alias=True))
        with self._lock:
            self.events.append(event)
            self.details.append((event.detail_type, detail))

    def of_type(self, kind: type[E]) -> list[E]:
        with self._lock:
            return [event for event in self.events if isinstance(event, kind)]

    def detail_types(self) -> list[str]:
        with self._lock:
            return [detail_type for detail_type, _ in self.details]
