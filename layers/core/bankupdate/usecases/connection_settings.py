"""Connection settings the user controls: background updates on or off."""

from __future__ import annotations

from dataclasses import dataclass

from bankupdate.domain.errors import NotFound
from bankupdate.domain.model import ConnectionRecord
from bankupdate.ports import Clock, ConnectionStore, ScheduleStore


@dataclass
class SetSchedule:
    connections: ConnectionStore
    schedules: ScheduleStore
    clock: Clock

    def __call__(self, *, owner_id: str, connection_id: int, enabled: bool) -> ConnectionRecord:
        if self.connections.get(owner_id, connection_id) is None:
            raise NotFound(f"bank connection {connection_id} is not known for this user")
        # Opting in makes the connection due at once: the next scheduled run picks it up.
        now = self.clock.now()
        self.schedules.set_schedule(owner_id, connection_id, enabled=enabled, next_due_at=now if enabled else None)
        connection = self.connections.get(owner_id, connection_id)
        assert connection is not None
        return connection
