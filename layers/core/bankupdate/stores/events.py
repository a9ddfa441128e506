"""Outcome events on the EventBridge bus."""

from __future__ import annotations

from pydantic import BaseModel

from bankupdate.stores.aws import client


class EventPublisher:
    def __init__(self, bus_name: str, source: str) -> None:
        self._bus = bus_name
        self._source = source
        self._events = client("events")

    def publish(self, detail_type: str, detail: BaseModel) -> None:
        answer = self._events.put_events(
            Entries=[
                {
                    "EventBusName": self._bus,
                    "Source": self._source,
                    "DetailType": detail_type,
                    "Detail": detail.model_dump_json(by_alias=True),
                }
            ]
        )
        if answer.get("FailedEntryCount", 0):
            raise RuntimeError(f"EventBridge refused the {detail_type} event: {answer['Entries']}")
