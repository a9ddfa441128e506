"""What an update brought: which transactions finAPI imported (or removed) since the connection was last looked at.

The method (decision D29): after each successful update, search the connection's accounts for transactions imported
since a day (finAPI's ``minImportDate`` is a date), and take those whose ids were not seen before. The state between
two looks holds ids and dates only, never bank data: the day the next search starts from, the ids already seen on or
after that day (by finAPI's import day), and the future-booked transactions being watched until their booking (the
ones a bank may still drop). Nothing here relies on finAPI's ids being ordered (finAPI documents no order) or on
``isNew`` (the app's to use).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field

# finAPI's dates, importDate included, are German time (spec: "in the format 'YYYY-MM-DD HH:MM:SS.SSS' (german time)").
FINAPI_TIME_ZONE = ZoneInfo("Europe/Berlin")
# Our clock and finAPI's may differ by this much: a search starts this long before the last one, by finAPI's day.
CLOCK_SKEW = timedelta(minutes=2)
# A connection's first look counts what finAPI imported from this long before its update started: both clocks are
# NTP-synced; a wider margin would count a history imported just before the first update as new (D29).
FIRST_LOOK_MARGIN = timedelta(seconds=10)
# A future-booked transaction is watched this long after its import: a bank that drops one does so before it books.
WATCH_DAYS = 14
MAX_WATCHED = 500  # one finAPI page: the watch is checked with one call
ENTRY_IDS = 1000  # ids per change-log entry (a DynamoDB item stays far below its 400 KB)


def finapi_day(moment: datetime) -> date:
    return moment.astimezone(FINAPI_TIME_ZONE).date()


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)


class BankTransaction(_Frozen):
    """One transaction as finAPI reports it. Read from finAPI when needed and never stored."""

    transaction_id: int
    account_id: int
    amount: Decimal
    currency: str | None = None
    bank_booking_date: date
    value_date: date | None = None
    imported_at: datetime
    purpose: str | None = None
    counterpart_name: str | None = None
    counterpart_iban: str | None = None
    kind: str | None = None
    adjusting_entry: bool = False
    potential_duplicate: bool = False
    is_new: bool = True

    @property
    def import_day(self) -> date:
        return finapi_day(self.imported_at)

    @property
    def future_booked(self) -> bool:
        """finAPI imports a transaction the bank books later with the import day as its finAPI booking date (spec
        ``finapiBookingDate``): until the bank books it, the bank may still drop it."""
        return self.bank_booking_date > self.import_day


class AccountNow(_Frozen):
    """An account as finAPI reports it now (read live, for the app's screen; never stored)."""

    account_id: int
    name: str | None = None
    iban: str | None = None
    account_type: str | None = None
    balance: float | None = None
    currency: str | None = None
    last_successful_update: datetime | None = None


class ConnectionAccounts(_Frozen):
    connection_id: int
    bank_name: str | None = None
    accounts: tuple[AccountNow, ...] = ()


class Watched(_Frozen):
    account_id: int
    until: date


class ScanState(_Frozen):
    """Where the last look at a connection's transactions left off (stored: ids, days and counters only)."""

    head: int = 0  # sequence number of the newest change-log entry
    last_update_id: str | None = None  # the update whose look this is
    last_entries: tuple[int, ...] = ()  # the change-log entries that look wrote
    previous_update_id: str | None = None  # the update looked at before it
    since: date | None = None  # the next search takes transactions imported on or after this (finAPI's) day
    seen: dict[date, dict[int, tuple[int, ...]]] = Field(default_factory=dict)  # import day -> account -> ids
    watched: dict[int, Watched] = Field(default_factory=dict)  # future-booked transaction id -> its account, until
    day_starts: dict[date, int] = Field(default_factory=dict)  # (finAPI's) day -> the head when its first look began
    # Before the first look that read finAPI: the first update's start (a first look that could not read finAPI
    # keeps it, so the next one counts that update's transactions too).
    counting_from: datetime | None = None
    # Seen at the first look but imported before it (the connection's history): never added, so never removed either
    uncounted: tuple[int, ...] = ()
    version: int = 0

    def seen_ids(self) -> set[int]:
        return {i for accounts in self.seen.values() for ids in accounts.values() for i in ids}

    def account_of_seen(self) -> dict[int, int]:
        return {i: account for accounts in self.seen.values() for account, ids in accounts.items() for i in ids}


class ChangeEntry(_Frozen):
    """One entry of a connection's change log: ids only. An update's look writes one or more (``ENTRY_IDS`` each)."""

    seq: int
    update_id: str
    recorded_at: datetime
    added: tuple[tuple[int, int], ...] = ()  # (account id, transaction id)
    removed: tuple[tuple[int, int], ...] = ()

    @property
    def size(self) -> int:
        return len(self.added) + len(self.removed)


@dataclass(frozen=True)
class Scan:
    """One look's outcome: the new state, what was added (with finAPI's data, in memory) and what was removed."""

    state: ScanState
    added: tuple[BankTransaction, ...]
    removed: tuple[tuple[int, int], ...]  # (account id, transaction id)


def counting_from(state: ScanState | None, baseline: datetime) -> datetime:
    """A connection's first look counts what was imported from here on: its first update's start."""
    return (state.counting_from if state is not None and state.counting_from else baseline) - FIRST_LOOK_MARGIN


def search_day(state: ScanState | None, baseline: datetime) -> date:
    """The ``minImportDate`` of the next search: where the last look left off, or (the first look at a connection)
    the day its first update started."""
    if state is not None and state.since is not None:
        return state.since
    return finapi_day(counting_from(state, baseline) - CLOCK_SKEW)


def to_confirm(state: ScanState | None, found: Iterable[BankTransaction]) -> list[int]:
    """Ids to ask finAPI about by id: those watched, and those seen on or after the search day that the search no
    longer returned (deleted, or moved from one page to another while being read: only a read by id tells)."""
    if state is None:
        return []
    present = {t.transaction_id for t in found}
    candidates = set(state.watched)
    if state.since is not None:
        for day, accounts in state.seen.items():
            if day >= state.since:
                candidates |= {i for ids in accounts.values() for i in ids}
    return sorted(candidates - present)


def scan(
    state: ScanState | None,
    found: Sequence[BankTransaction],
    confirmed: Sequence[BankTransaction],
    *,
    update_id: str,
    baseline: datetime,
    now: datetime,
    downloaded: Iterable[int] | None = None,
) -> Scan:
    """Compare what the search ``found`` (imported since ``search_day``) and what a read by id ``confirmed`` (of
    ``to_confirm``'s ids) with the last look. ``baseline``: when the update started (a connection's first look counts
    only what was imported after it). ``downloaded``: the accounts finAPI updated this time (None: all); a watched
    transaction leaves the watch only when a download of its account shows it booked, or still there after
    ``WATCH_DAYS``: an account whose download failed may still lose it at its next one."""
    previous = state or ScanState()
    unique = {t.transaction_id: t for t in found}
    known = previous.seen_ids()
    first = state is None or state.last_update_id is None
    if first:
        start = counting_from(state, baseline)
        added = [t for t in unique.values() if t.imported_at >= start]
    else:
        added = [t for t in unique.values() if t.transaction_id not in known]
    added.sort(key=lambda t: (t.account_id, t.imported_at, t.transaction_id))
    present = set(unique) | {t.transaction_id for t in confirmed}
    accounts = previous.account_of_seen()
    removed = sorted(
        (previous.watched[i].account_id if i in previous.watched else accounts[i], i)
        for i in to_confirm(state, found)
        if i not in present
    )
    gone = {i for _, i in removed}
    # The change log removes only what it added: a transaction of the history before the first look is dropped silently.
    removed = [(a, i) for a, i in removed if i not in previous.uncounted]
    since = finapi_day(now - CLOCK_SKEW)
    seen: dict[date, dict[int, set[int]]] = {}
    for day, by_account in previous.seen.items():
        for account, ids in by_account.items():
            seen.setdefault(day, {}).setdefault(account, set()).update(i for i in ids if i not in gone)
    for t in unique.values():
        seen.setdefault(t.import_day, {}).setdefault(t.account_id, set()).add(t.transaction_id)
    today = finapi_day(now)
    fresh = None if downloaded is None else set(downloaded)
    # Booked for sure only if this update's download (which began at ``baseline``) began on or after its booking day
    downloaded_on = finapi_day(baseline)
    settled = {
        t.transaction_id
        for t in [*confirmed, *unique.values()]
        if (fresh is None or t.account_id in fresh)
        and (not _still_future(t, downloaded_on) or previous.watched.get(t.transaction_id, _NEVER).until < today)
    }
    watched = {i: w for i, w in previous.watched.items() if i not in gone and i not in settled} | {
        t.transaction_id: Watched(account_id=t.account_id, until=t.import_day + timedelta(days=WATCH_DAYS))
        for t in added
        if t.future_booked and t.transaction_id not in settled
    }
    if len(watched) > MAX_WATCHED:
        keep = sorted(watched.items(), key=lambda item: (item[1].until, item[0]))[-MAX_WATCHED:]
        watched = dict(keep)
    kept = {
        day: {account: tuple(sorted(ids)) for account, ids in sorted(by_account.items()) if ids}
        for day, by_account in sorted(seen.items())
        if day >= since
    }
    kept_ids = {i for by_account in kept.values() for ids in by_account.values() for i in ids}
    counted = {t.transaction_id for t in added}
    uncounted = set(previous.uncounted) | ({i for i in unique if i not in counted} if first else set())
    new_state = previous.model_copy(
        update={
            "since": since,
            "seen": kept,
            "watched": watched,
            "previous_update_id": previous.last_update_id,
            "last_update_id": update_id,
            "counting_from": None,
            "uncounted": tuple(sorted(uncounted & kept_ids)),
        }
    )
    return Scan(new_state, tuple(added), tuple(removed))


def advance(state: ScanState, made: Sequence[ChangeEntry], *, now: datetime, keep_days: int) -> ScanState:
    """The state after its look's entries are written: the new head, and where each kept day's changes begin (so a
    reader can start "from a day")."""
    today = finapi_day(now)
    oldest = today - timedelta(days=keep_days)
    starts = {day: seq for day, seq in state.day_starts.items() if day >= oldest}
    starts.setdefault(today, state.head)
    return state.model_copy(
        update={
            "head": made[-1].seq if made else state.head,
            "last_entries": tuple(e.seq for e in made),
            "day_starts": starts,
        }
    )


def start_of_day(state: ScanState | None, day: date) -> int:
    """The head before the first change on or after ``day`` (the current head when nothing changed since)."""
    if state is None:
        return 0
    later = sorted(d for d in state.day_starts if d >= day)
    return state.day_starts[later[0]] if later else state.head


_NEVER = Watched(account_id=0, until=date.max)


def _still_future(transaction: BankTransaction, today: date) -> bool:
    return transaction.bank_booking_date > today


def entries(scan_result: Scan, *, first_seq: int, update_id: str, at: datetime) -> list[ChangeEntry]:
    """The change-log entries of one look: its added then its removed ids, ``ENTRY_IDS`` per entry."""
    items = [("added", t.account_id, t.transaction_id) for t in scan_result.added]
    items += [("removed", account, i) for account, i in scan_result.removed]
    made = []
    for n, start in enumerate(range(0, len(items), ENTRY_IDS)):
        chunk = items[start : start + ENTRY_IDS]
        made.append(
            ChangeEntry(
                seq=first_seq + n,
                update_id=update_id,
                recorded_at=at,
                added=tuple((a, i) for kind, a, i in chunk if kind == "added"),
                removed=tuple((a, i) for kind, a, i in chunk if kind == "removed"),
            )
        )
    return made


# ----------------------------------------------------------------------------------------------- per account


@dataclass(frozen=True)
class AccountChange:
    imported: int
    removed: int
    imported_sum: Decimal


def per_account(entries_of_update: Iterable[ChangeEntry], amounts: dict[int, Decimal]) -> dict[int, AccountChange]:
    """Counts per account of one update's entries; ``amounts`` of the added transactions finAPI still has."""
    imported: dict[int, list[int]] = {}
    removed: dict[int, int] = {}
    for entry in entries_of_update:
        for account, i in entry.added:
            imported.setdefault(account, []).append(i)
        for account, _ in entry.removed:
            removed[account] = removed.get(account, 0) + 1
    return {
        account: AccountChange(
            imported=len(imported.get(account, [])),
            removed=removed.get(account, 0),
            imported_sum=sum((amounts.get(i, Decimal(0)) for i in imported.get(account, [])), Decimal(0)),
        )
        for account in sorted(set(imported) | set(removed))
    }


def balance_before(
    after: float | None, *, recorded_before: float | None, change: AccountChange | None, new_account: bool
) -> float | None:
    """The balance before the update: as the connection's previous update recorded it; without one, finAPI's balance
    less what this update imported (finAPI keeps the transactions adding up to the balance: adjusting entries); not
    known for a new account, or when a transaction disappeared (its amount is gone with it)."""
    if new_account:
        return None
    if recorded_before is not None:
        return recorded_before
    if after is None or (change is not None and change.removed):
        return None
    imported = change.imported_sum if change is not None else Decimal(0)
    return float((Decimal(str(after)) - imported).quantize(Decimal("0.01")))
