"""Query: what the app may read about its own updates and connections (someone else's are simply not there)."""

from __future__ import annotations

from bankupdate.domain.errors import NotFound
from bankupdate.domain.model import ConnectionRecord, UpdateRecord
from bankupdate.usecases.services import Services


def get_update(services: Services, *, owner_id: str, update_id: str) -> UpdateRecord:
    stored = services.updates.get(update_id)
    if stored is None or stored.record.owner_id != owner_id:
        raise NotFound(f"update {update_id} does not exist")
    return stored.record


def get_connection(services: Services, *, owner_id: str, connection_id: int) -> ConnectionRecord:
    connection = services.connections.get(owner_id, connection_id)
    if connection is None:
        raise NotFound(f"bank connection {connection_id} is not known for this user")
    return connection
