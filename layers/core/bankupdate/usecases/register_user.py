"""Admin: register (or replace) the finAPI user behind one of our users."""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import SecretStr

from bankupdate.ports import Clock, UserStore


@dataclass
class RegisterFinapiUser:
    users: UserStore
    clock: Clock

    def __call__(self, *, owner_id: str, username: str, password: SecretStr) -> None:
        self.users.put(owner_id, username, password, self.clock.now())
