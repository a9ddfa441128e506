"""Admin: register (or replace) the finAPI user behind one of our users."""

from __future__ import annotations

from pydantic import SecretStr

from bankupdate.usecases.services import Services


def register_finapi_user(services: Services, *, owner_id: str, username: str, password: SecretStr) -> None:
    services.users.put(owner_id, username, password, services.clock())
