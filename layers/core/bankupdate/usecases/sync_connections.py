"""Admin: register a user's connections from finAPI's list (with their consent expiry and need for the user)."""

from __future__ import annotations

from dataclasses import dataclass

from bankupdate.ports import BankGateway, Clock, ConnectionStore


@dataclass
class SyncConnections:
    gateway: BankGateway
    connections: ConnectionStore
    clock: Clock

    def __call__(self, *, owner_id: str) -> list[int]:
        now = self.clock.now()
        synced = []
        for facts in self.gateway.list_connections(owner_id):
            self.connections.record_facts(owner_id, facts, now)
            synced.append(facts.connection_id)
        return synced
