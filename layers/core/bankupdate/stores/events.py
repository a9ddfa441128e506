"""Outcome events on the EventBridge bus."""

from __future__ import annotations

from bankupdate.domain.events import OutcomeEvent
from bankupdate.stores.aws import ServiceClient


class EventBridgeBus:
    _events = ServiceClient("events")

    def __init__(self, bus_name: str, source: str) -> None:
        self._bus = bus_name
        self._source = source

    def publish(self, event: OutcomeEvent) -> None:
        answer = self._events.put_events(
            Entries=[
                {
                    "EventBusName": self._bus,
                    "Source": self._source,
                    "DetailType": event.detail_type,
                    "Detail": event.model_dump_json(by_alias=True),
                }
            ]
        )
        if answer.get("FailedEntryCount", 0):
            raise RuntimeError(f"EventBridge refused the {event.detail_type} event: {answer['Entries']}")
