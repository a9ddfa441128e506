"""Connection settings the user controls: background updates on or off."""

from __future__ import annotations

from bankupdate.domain.model import ConnectionRecord
from bankupdate.usecases.queries import get_connection
from bankupdate.usecases.services import Services


def set_schedule(services: Services, *, owner_id: str, connection_id: int, enabled: bool) -> ConnectionRecord:
    get_connection(services, owner_id=owner_id, connection_id=connection_id)  # 404 for unknown or foreign ones
    # Opting in makes the connection due at once: the next scheduled run picks it up.
    services.schedules.set_schedule(
        owner_id, connection_id, enabled=enabled, next_due_at=services.clock() if enabled else None
    )
    return get_connection(services, owner_id=owner_id, connection_id=connection_id)


def list_connections(services: Services, *, owner_id: str) -> list[ConnectionRecord]:
    return services.schedules.list_for_owner(owner_id)
