"""Is a finAPI update finished, and did it succeed? (finAPI reference §2.3)

1. ``updateStatus`` stays ``IN_PROGRESS`` until the download ends; ``READY`` says nothing about success.
2. Success is the interface's update result (``lastManualUpdate``/``lastAutoUpdate``) written after we triggered.
3. Categories are only there once ``categorizationStatus`` is ``READY`` (awaited only when the caller asked).
4. Per account, ``DOWNLOAD_FAILED`` means that account was not refreshed; all accounts failing is a failed update.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from pydantic import BaseModel, ConfigDict

from bankupdate.domain.errors import BankRejected, BankUpdateError, DownloadFailed, UpdateTimedOut, UpstreamUnavailable

# finAPI stamps results with its own clock (German time, millisecond precision); tolerate a little skew.
CLOCK_SKEW = timedelta(seconds=5)


class BankResultSnapshot(BaseModel):
    model_config = ConfigDict(frozen=True)

    result: str
    error_message: str | None = None
    error_type: str | None = None
    timestamp: datetime


class InterfaceSnapshot(BaseModel):
    model_config = ConfigDict(frozen=True)

    interface: str
    last_manual_update: BankResultSnapshot | None = None
    last_auto_update: BankResultSnapshot | None = None
    consent_expires_at: datetime | None = None
    user_action_required: bool = False

    def latest_result(self) -> BankResultSnapshot | None:
        results = [r for r in (self.last_manual_update, self.last_auto_update) if r is not None]
        return max(results, key=lambda r: r.timestamp, default=None)


class ConnectionSnapshot(BaseModel):
    model_config = ConfigDict(frozen=True)

    connection_id: int
    update_status: str
    categorization_status: str | None = None
    interfaces: tuple[InterfaceSnapshot, ...] = ()
    account_ids: tuple[int, ...] = ()

    def interface_named(self, name: str | None) -> InterfaceSnapshot | None:
        if name is not None:
            for candidate in self.interfaces:
                if candidate.interface == name:
                    return candidate
        with_results = [i for i in self.interfaces if i.latest_result() is not None]
        if not with_results:
            return self.interfaces[0] if self.interfaces else None
        return max(with_results, key=lambda i: i.latest_result().timestamp)  # type: ignore[union-attr]


class PollVerdict(StrEnum):
    WAIT = "WAIT"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"


@dataclass(frozen=True)
class PollDecision:
    verdict: PollVerdict
    error: BankUpdateError | None = None
    bank_result: BankResultSnapshot | None = None


def decide_poll(
    snapshot: ConnectionSnapshot,
    *,
    interface: str | None,
    triggered_at: datetime,
    deadline_at: datetime,
    now: datetime,
    wait_for_categorization: bool,
    require_fresh_result: bool = False,
) -> PollDecision:
    if snapshot.update_status != "READY" or (
        wait_for_categorization and snapshot.categorization_status not in (None, "READY")
    ):
        if now >= deadline_at:
            return PollDecision(
                PollVerdict.FAILED,
                error=UpdateTimedOut(f"update still running after its deadline {deadline_at.isoformat()}"),
            )
        if snapshot.update_status == "READY":
            # The download succeeded or failed already; only categorization is outstanding.
            failed = _bank_failure(snapshot, interface, triggered_at)
            if failed is not None:
                return failed
        return PollDecision(PollVerdict.WAIT)

    if require_fresh_result and not _has_fresh_result(snapshot, interface, triggered_at):
        return PollDecision(
            PollVerdict.FAILED,
            error=UpstreamUnavailable(
                "finAPI did not start the update (its answer was lost and no result was written after the trigger)"
            ),
        )
    failed = _bank_failure(snapshot, interface, triggered_at)
    if failed is not None:
        return failed
    return PollDecision(PollVerdict.SUCCEEDED, bank_result=_fresh_result(snapshot, interface, triggered_at))


def _has_fresh_result(snapshot: ConnectionSnapshot, interface: str | None, since: datetime) -> bool:
    chosen = snapshot.interface_named(interface)
    latest = chosen.latest_result() if chosen else None
    return latest is not None and latest.timestamp >= since - CLOCK_SKEW


def _fresh_result(snapshot: ConnectionSnapshot, interface: str | None, since: datetime) -> BankResultSnapshot | None:
    chosen = snapshot.interface_named(interface)
    if chosen is None:
        return None
    latest = chosen.latest_result()
    if latest is not None and latest.timestamp >= since - CLOCK_SKEW:
        return latest
    # READY without a fresh result: finAPI finished, but stamped no result after our trigger (e.g. its clock is
    # behind). The newest result is the best evidence there is.
    return latest


def _bank_failure(snapshot: ConnectionSnapshot, interface: str | None, since: datetime) -> PollDecision | None:
    result = _fresh_result(snapshot, interface, since)
    if result is None:
        return PollDecision(PollVerdict.FAILED, error=DownloadFailed("finAPI finished the update without a result"))
    if result.result == "OK":
        return None
    if result.result == "BANK_SERVER_REJECTION":
        error: BankUpdateError = BankRejected(
            f"bank rejected the update: {result.error_message or 'no message'}",
            user_message=result.error_message,
            upstream_code=result.result,
        )
    else:
        error = DownloadFailed(
            f"finAPI reported {result.result}: {result.error_message or 'no message'}", upstream_code=result.result
        )
    return PollDecision(PollVerdict.FAILED, error=error, bank_result=result)


def all_accounts_failed(statuses: Sequence[str]) -> bool:
    return bool(statuses) and all(status == "DOWNLOAD_FAILED" for status in statuses)
