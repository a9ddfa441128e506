"""What the stores hand back, importable without boto3 (use cases need these types, not the AWS SDK)."""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import SecretStr

from bankupdate.domain.model import ConnectionRecord, UpdateRecord


class StaleUpdate(Exception):
    """The record changed since it was read (optimistic concurrency)."""


@dataclass(frozen=True)
class StoredUpdate:
    record: UpdateRecord
    task_token: str | None
    task_token_round: int | None


@dataclass(frozen=True)
class FinapiUserRecord:
    owner_id: str
    username: str
    password: SecretStr


@dataclass(frozen=True)
class LockAttempt:
    """The outcome of one try for a connection's lock, and the connection as that same write saw it."""

    holder: str | None  # None: the lock is ours; otherwise the update holding it ("unknown" if none is recorded)
    connection: ConnectionRecord | None  # after the write when taken, as found when refused; None if there is none
