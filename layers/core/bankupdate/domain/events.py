"""The events other systems react to. Ids and outcomes only: no credentials, TANs, tokens or challenge data."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel

from bankupdate.domain.errors import UpdateError
from bankupdate.domain.model import UpdateMode, UpdateRecord, UpdateStatus

SUCCEEDED = "BankConnectionUpdate Succeeded"
FAILED = "BankConnectionUpdate Failed"
EXPIRED = "BankConnectionUpdate Expired"
AUTHENTICATION_REQUIRED = "BankConnectionUpdate AuthenticationRequired"
USER_ACTION_REQUIRED = "BankConnection UserActionRequired"
CONSENT_EXPIRING = "BankConnection ConsentExpiring"

DETAIL_TYPE_BY_STATUS = {UpdateStatus.SUCCEEDED: SUCCEEDED, UpdateStatus.FAILED: FAILED, UpdateStatus.EXPIRED: EXPIRED}


class _Event(BaseModel):
    model_config = ConfigDict(frozen=True, alias_generator=to_camel, populate_by_name=True)


class AccountSummary(_Event):
    account_id: int
    status: str
    new_account: bool


class UpdateFinished(_Event):
    update_id: str
    owner_id: str
    connection_id: int
    mode: UpdateMode
    status: UpdateStatus
    finished_at: datetime
    error: UpdateError | None = None
    accounts: tuple[AccountSummary, ...] = ()
    categorization_status: str | None = None

    @classmethod
    def of(cls, record: UpdateRecord, finished_at: datetime) -> UpdateFinished:
        accounts = record.result.accounts if record.result else ()
        return cls(
            update_id=record.update_id,
            owner_id=record.owner_id,
            connection_id=record.connection_id,
            mode=record.mode,
            status=record.status,
            finished_at=finished_at,
            error=record.error,
            accounts=tuple(
                AccountSummary(account_id=a.account_id, status=a.status, new_account=a.new_account) for a in accounts
            ),
            categorization_status=record.result.categorization_status if record.result else None,
        )


class AuthenticationRequested(_Event):
    update_id: str
    owner_id: str
    connection_id: int
    challenge_status: str
    auth_round: int
    expires_at: datetime | None


class ConnectionNeedsUser(_Event):
    owner_id: str
    connection_id: int
    update_id: str
    reason: str
    user_message: str


class ConsentExpiringSoon(_Event):
    owner_id: str
    connection_id: int
    consent_expires_at: datetime
