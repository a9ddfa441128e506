"""Records the contract tests start from."""

from __future__ import annotations

from datetime import UTC, datetime

from bankupdate.domain.model import (
    Challenge,
    ChallengeStatus,
    ConnectionHealth,
    ConnectionRecord,
    UpdateMode,
    UpdateOptions,
    UpdateRecord,
    UpdateStatus,
)
from bankupdate.domain.upstream import ConnectionFacts

NOW = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
OWNER = "user-1"


def waiting_update(update_id: str = "0" * 32, *, created_at: datetime = NOW, auth_round: int = 1) -> UpdateRecord:
    """A user-present update waiting for the answer to its first challenge."""
    return UpdateRecord(
        update_id=update_id,
        owner_id=OWNER,
        connection_id=1,
        mode=UpdateMode.USER_PRESENT,
        status=UpdateStatus.AUTHENTICATION_REQUIRED,
        options=UpdateOptions(import_new_accounts=True),
        challenge=Challenge(status=ChallengeStatus.CHALLENGE_RESPONSE_REQUIRED, hash="h1", message="TAN please"),
        auth_round=auth_round,
        created_at=created_at,
        updated_at=created_at,
        known_account_ids=(1, 2),
    )


def facts(
    connection_id: int, *, user_action_required: bool = False, consent: datetime | None = None
) -> ConnectionFacts:
    return ConnectionFacts(
        connection_id=connection_id,
        account_ids=(11, 12),
        consent_expires_at=consent,
        user_action_required=user_action_required,
    )


def first_record(connection_id: int, *, created_at: datetime = NOW) -> ConnectionRecord:
    """A connection's first record, as a trigger writes it with the lock."""
    return ConnectionRecord(
        owner_id=OWNER,
        connection_id=connection_id,
        created_at=created_at,
        health=ConnectionHealth(known_account_ids=(11, 12)),
    )
