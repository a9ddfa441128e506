"""The events other systems react to. Ids and outcomes only: no credentials, TANs, tokens or challenge data; of the
bank's data only what the update's own record shows (per account: counts, balances before and after, D29).

Delivery is at least once (a finish repeated after a crash publishes again): consumers deduplicate on ``updateId`` and
the detail type.
"""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel

from bankupdate.domain.errors import UpdateError
from bankupdate.domain.model import UpdateMode, UpdateRecord, UpdateStatus


class OutcomeEvent(BaseModel):
    model_config = ConfigDict(frozen=True, alias_generator=to_camel, populate_by_name=True)

    detail_type: ClassVar[str]


class AccountSummary(OutcomeEvent):
    account_id: int
    status: str
    new_account: bool
    # What the update brought (null: not known). The transactions themselves: the sync cursor route.
    imported_transactions: int | None = None
    removed_transactions: int | None = None
    balance_before: float | None = None
    balance_after: float | None = None
    currency: str | None = None


class UpdateFinished(OutcomeEvent):
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
    def of(cls, record: UpdateRecord) -> UpdateFinished:
        finished_type = {
            UpdateStatus.SUCCEEDED: UpdateSucceeded,
            UpdateStatus.FAILED: UpdateFailed,
            UpdateStatus.EXPIRED: UpdateExpired,
        }[record.status]
        accounts = record.result.accounts if record.result else ()
        return finished_type(
            update_id=record.update_id,
            owner_id=record.owner_id,
            connection_id=record.connection_id,
            mode=record.mode,
            status=record.status,
            finished_at=record.updated_at,
            error=record.error,
            accounts=tuple(
                AccountSummary(
                    account_id=a.account_id,
                    status=a.status,
                    new_account=a.new_account,
                    imported_transactions=a.imported_transactions,
                    removed_transactions=a.removed_transactions,
                    balance_before=a.balance_before,
                    balance_after=a.balance,
                    currency=a.currency,
                )
                for a in accounts
            ),
            categorization_status=record.result.categorization_status if record.result else None,
        )


class UpdateSucceeded(UpdateFinished):
    detail_type = "BankConnectionUpdate Succeeded"


class UpdateFailed(UpdateFinished):
    detail_type = "BankConnectionUpdate Failed"


class UpdateExpired(UpdateFinished):
    detail_type = "BankConnectionUpdate Expired"


class AuthenticationRequested(OutcomeEvent):
    """The bank asks the user for something; ``actionUrl`` is finAPI's web form in Web Form 2.0 mode."""

    detail_type = "BankConnectionUpdate AuthenticationRequired"

    update_id: str
    owner_id: str
    connection_id: int
    challenge_status: str
    auth_round: int
    expires_at: datetime | None
    action_url: str | None = None


class ConnectionNeedsUser(OutcomeEvent):
    detail_type = "BankConnection UserActionRequired"

    owner_id: str
    connection_id: int
    update_id: str
    reason: str
    user_message: str
    action_url: str | None = None


class ConsentExpiringSoon(OutcomeEvent):
    detail_type = "BankConnection ConsentExpiring"

    owner_id: str
    connection_id: int
    consent_expires_at: datetime
