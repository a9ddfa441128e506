"""Which scheduled connection may be updated in the background now, and if not, why and what the user can do."""

from __future__ import annotations

import hashlib
import uuid
from datetime import datetime, timedelta

from bankupdate.domain.errors import UpdateError
from bankupdate.domain.model import ConnectionRecord, SkipReason

REMEDY: dict[SkipReason, str] = {
    SkipReason.SCHEDULE_DISABLED: "Background updates are switched off for this connection.",
    SkipReason.USER_ACTION_REQUIRED: "Open the app and update this connection yourself: your bank needs you.",
    SkipReason.CONSENT_EXPIRED: "Your bank consent has expired. Update the connection yourself to renew it.",
    SkipReason.UPDATE_RUNNING: "An update is running right now; the next background update follows on schedule.",
    SkipReason.PERMANENT_ERROR: "This connection cannot be updated automatically; please check it in the app.",
    SkipReason.BUDGET_EXHAUSTED: "Your bank allows only a few background updates a day; the next one runs tomorrow.",
}

# Errors no retry will cure: the bank is unsupported, the connection is gone, finAPI refuses the request itself.
PERMANENT_ERROR_CODES = frozenset({"BANK_UNSUPPORTED", "NOT_FOUND", "REQUEST_REJECTED_BY_FINAPI"})


def skip_reason(connection: ConnectionRecord, *, now: datetime, remaining_budget: int) -> SkipReason | None:
    health = connection.health
    if not connection.schedule.enabled:
        return SkipReason.SCHEDULE_DISABLED
    if health.user_action_required:
        return SkipReason.USER_ACTION_REQUIRED
    if health.consent_expires_at is not None and health.consent_expires_at <= now:
        return SkipReason.CONSENT_EXPIRED
    if connection.active_update_id and connection.lock_expires_at and connection.lock_expires_at > now:
        return SkipReason.UPDATE_RUNNING
    if _is_permanent(health.last_error):
        return SkipReason.PERMANENT_ERROR
    if remaining_budget <= 0:
        return SkipReason.BUDGET_EXHAUSTED
    return None


def _is_permanent(error: UpdateError | None) -> bool:
    return error is not None and error.code in PERMANENT_ERROR_CODES


def consent_expiring(connection: ConnectionRecord, *, now: datetime, window: timedelta) -> bool:
    """True once per expiry date: when it enters the warning window and nobody was warned about that date yet."""
    expires = connection.health.consent_expires_at
    if expires is None or not now < expires <= now + window:
        return False
    return connection.schedule.consent_warning_for != expires


def scheduled_update_id(owner_id: str, connection_id: int, slot: datetime) -> str:
    """Deterministic per connection and due slot: a repeated schedule or a redelivered message finds the same id."""
    name = f"{owner_id}\x1f{connection_id}\x1f{slot.isoformat()}"
    return uuid.uuid5(uuid.NAMESPACE_URL, "bank-update:" + name).hex


def shard_of(owner_id: str, connection_id: int, shards: int) -> int:
    digest = hashlib.sha256(f"{owner_id}/{connection_id}".encode()).digest()
    return int.from_bytes(digest[:4], "big") % shards
