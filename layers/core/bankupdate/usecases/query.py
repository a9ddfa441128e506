"""Query: what the app may read about its own updates and connections (someone else's are simply not there)."""

from __future__ import annotations

from dataclasses import dataclass

from bankupdate.domain.errors import NotFound
from bankupdate.domain.model import ConnectionRecord, UpdateRecord
from bankupdate.ports import ConnectionStore, ScheduleStore, UpdateStore


@dataclass
class ReadUpdates:
    updates: UpdateStore
    connections: ConnectionStore
    schedules: ScheduleStore

    def update(self, *, owner_id: str, update_id: str) -> UpdateRecord:
        stored = self.updates.get(update_id)
        if stored is None or stored.record.owner_id != owner_id:
            raise NotFound(f"update {update_id} does not exist")
        return stored.record

    def connection(self, *, owner_id: str, connection_id: int) -> ConnectionRecord:
        connection = self.connections.get(owner_id, connection_id)
        if connection is None:
            raise NotFound(f"bank connection {connection_id} is not known for this user")
        return connection

    def connections_of(self, *, owner_id: str) -> list[ConnectionRecord]:
        return self.schedules.list_for_owner(owner_id)
