"""Admin: register a user's connections from finAPI's list (with their consent expiry and need for the user)."""

from __future__ import annotations

from bankupdate.usecases.finapi_mapping import snapshot_from
from bankupdate.usecases.services import Services
from bankupdate.usecases.start_update import finapi_user


def sync_connections(services: Services, *, owner_id: str) -> list[int]:
    user = finapi_user(services, owner_id)
    now = services.clock()
    synced = []
    for connection in services.finapi.list_bank_connections(user):
        snapshot = snapshot_from(connection)
        consents = [i.consent_expires_at for i in snapshot.interfaces if i.consent_expires_at is not None]
        services.connections.ensure(owner_id, connection.id, now)
        services.connections.record_consent(
            owner_id,
            connection.id,
            consent_expires_at=min(consents) if consents else None,
            user_action_required=any(i.user_action_required for i in snapshot.interfaces),
        )
        synced.append(connection.id)
    return synced
