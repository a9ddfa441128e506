"""``UserStore`` in memory (the adapter keeps the password KMS-encrypted; here it stays a ``SecretStr``)."""

from __future__ import annotations

import threading
from datetime import datetime

from pydantic import SecretStr

from bankupdate.ports import FinapiUserRecord


class InMemoryUserStore:
    def __init__(self) -> None:
        self._users: dict[str, FinapiUserRecord] = {}
        self._lock = threading.Lock()

    def put(self, owner_id: str, username: str, password: SecretStr, now: datetime) -> None:
        with self._lock:
            self._users[owner_id] = FinapiUserRecord(owner_id=owner_id, username=username, password=password)

    def get(self, owner_id: str) -> FinapiUserRecord | None:
        with self._lock:
            return self._users.get(owner_id)
