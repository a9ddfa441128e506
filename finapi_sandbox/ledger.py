"""Transactions: what each test bank books on an account, and what finAPI imports of it at each download.

The bank's side is a pure function of (seed, account key, day): however often and whenever a test asks, day ``d`` of
an account has the same bookings. Days differ a lot (none, a few, many), each booking appears at its own time of day,
so several downloads a day split a day's bookings between them. Now and then a booking is "future-booked": the bank
already counts it in the balance but books it a few days later (finAPI imports it with ``finapiBookingDate`` = the day
of import, spec `Transaction.finapiBookingDate`); a share of those the bank drops again before their booking day, and
finAPI then no longer has them.

finAPI's side is what a download makes of it (spec `updateBankConnection`: "finAPI will download at most the last 89
days"): every booking that appeared since the account's last download and is not older than the window is imported
with a new id and ``importDate`` = the download's time; bookings that fell out of the window are covered by one
adjusting entry ("Zwischensaldo", ``isAdjustingEntry``) so the balance adds up to the transactions again (spec
`Transaction.isAdjustingEntry`); dropped future-booked transactions are deleted. Transaction ids are int64s drawn from
the seed, in no order: finAPI documents no order of its ids, so nothing built on this simulator may assume one.
"""

from __future__ import annotations

import random
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field

GERMAN_TIME = ZoneInfo("Europe/Berlin")
DOWNLOAD_WINDOW_DAYS = 89  # finAPI: an update downloads the last 89 days at most
HISTORY_DAYS = 30  # what a connection's first import (before the sandbox's story starts) brought
_CENT = Decimal("0.01")
_MINUTE = timedelta(minutes=1)

_COUNTERPARTS = (
    ("REWE Markt GmbH", "DE12500105170648489890", "Lastschrift", "Einkauf REWE SAGT DANKE"),
    ("Stadtwerke Muenchen", "DE89370400440532013000", "Lastschrift", "Abschlag Strom/Gas"),
    ("Deutsche Bahn Fernverkehr", "DE02120300000000202051", "Kartenzahlung", "DB Ticket Online"),
    ("Bar Centrale", "DE13700800000061110500", "Kartenzahlung", "Restaurantbesuch"),
    ("Amazon Payments Europe", "DE27100777770209299700", "Lastschrift", "Amazon.de Bestellung"),
    ("Max Mustermann", "DE75512108001245126199", "Gutschrift", "Miete Anteil"),
    ("Arbeitgeber AG", "DE44500105175407324931", "Gehalt/Rente", "Gehalt"),
    ("Sparkasse Geldautomat", None, "Auszahlung", "Bargeldauszahlung"),
)


class FeedConfig(BaseModel):
    """How busy the test bank's accounts are (shares of days and bookings; the seed picks which)."""

    model_config = ConfigDict(extra="forbid")

    quiet_day_share: float = Field(0.3, ge=0, le=1)  # days without a booking
    busy_day_share: float = Field(0.12, ge=0, le=1)  # days with many bookings (8 to 20)
    future_booked_share: float = Field(0.12, ge=0, le=1)  # bookings the bank books a few days after they appear
    dropped_share: float = Field(0.35, ge=0, le=1)  # of those, the ones the bank drops before their booking day


@dataclass(frozen=True, slots=True)
class Booking:
    """One booking as the bank reports it."""

    key: str
    day: date  # the (German) day it appears on
    appears_at: datetime  # the bank reports it from this moment on (UTC)
    booked_on: date  # the bank's booking date; later than the day it appears for a future-booked one
    dropped_at: datetime | None  # a future-booked booking the bank drops again (before ``booked_on``)
    amount: Decimal
    counterpart: str | None
    counterpart_iban: str | None
    kind: str
    purpose: str


@dataclass(slots=True)
class Transaction:
    """One transaction as finAPI has it."""

    id: int
    account_id: int
    amount: Decimal
    imported_at: datetime
    booked_on: date
    value_date: date
    counterpart: str | None
    counterpart_iban: str | None
    kind: str
    purpose: str
    is_adjusting_entry: bool = False
    is_new: bool = True
    booking: Booking | None = None  # None: an adjusting entry finAPI made up

    def finapi_booking_date(self, today: date) -> date:
        """Spec: a future-booked transaction has the day of import, moved on at each update until its booking day."""
        if self.booked_on <= today:
            return self.booked_on
        return max(self.imported_at.astimezone(GERMAN_TIME).date(), today)


@dataclass
class Download:
    """What one download did to an account (the simulator's own record, for tests)."""

    imported: list[int] = field(default_factory=list)
    removed: list[int] = field(default_factory=list)
    adjusting_entry: int | None = None


@dataclass
class _Account:
    key: str
    covered_until: datetime  # every booking that appeared up to here is imported, adjusted for, or was dropped
    opening_balance: Decimal
    rows: dict[int, Transaction] = field(default_factory=dict)


class Ledger:
    def __init__(self, seed: int, feed: FeedConfig | None = None) -> None:
        self.seed = seed
        self.feed = feed or FeedConfig()
        self._ids = random.Random(f"{seed}/transaction-ids")  # ids of a simulator, not secrets
        self._used_ids: set[int] = set()
        self._accounts: dict[int, _Account] = {}
        self._days: dict[tuple[str, date], list[Booking]] = {}  # bookings_on, worked out once per account and day
        self._key_seeds: dict[str, int] = {}

    # ------------------------------------------------------------------------------------------------ the bank

    def bookings_on(self, key: str, day: date) -> list[Booking]:
        """The bookings that appear on ``day`` (German time) on the account ``key``: the same for every caller."""
        found = self._days.get((key, day))
        if found is None:
            found = self._days[(key, day)] = self._book(key, day)
        return found

    def _book(self, key: str, day: date) -> list[Booking]:
        # One generator per account and day, seeded with integers (a string seed costs most of a day's bookings)
        key_seed = self._key_seeds.get(key)
        if key_seed is None:
            key_seed = self._key_seeds[key] = zlib.crc32(f"{self.seed}/{key}".encode())
        rng = random.Random((key_seed << 24) ^ day.toordinal())
        roll = rng.random()
        if roll < self.feed.quiet_day_share:
            return []
        busy = roll < self.feed.quiet_day_share + self.feed.busy_day_share
        count = 8 + int(rng.random() * 13) if busy else 1 + int(rng.random() * 4)
        midnight = datetime.combine(day, time(0), tzinfo=GERMAN_TIME).astimezone(UTC)
        minutes = int((datetime.combine(day + timedelta(days=1), time(0), tzinfo=GERMAN_TIME) - midnight) / _MINUTE)
        bookings = []
        prefix = f"{key}/{day.isoformat()}/"
        for n in range(count):
            appears_at = midnight + _MINUTE * int(rng.random() * minutes)
            name, iban, kind, purpose = _COUNTERPARTS[int(rng.random() * len(_COUNTERPARTS))]
            income = kind in ("Gutschrift", "Gehalt/Rente")
            low, high = (20_000, 320_000) if kind == "Gehalt/Rente" else (150, 18_000)
            amount = Decimal(low + int(rng.random() * (high - low))).scaleb(-2) * (1 if income else -1)
            booked_on, dropped_at = day, None
            if rng.random() < self.feed.future_booked_share:
                booked_on = day + timedelta(days=1 + int(rng.random() * 3))
                if rng.random() < self.feed.dropped_share:
                    latest = datetime.combine(booked_on, time(0), tzinfo=GERMAN_TIME).astimezone(UTC)
                    dropped_at = appears_at + (latest - appears_at) * (0.2 + 0.75 * rng.random())
            bookings.append(
                Booking(prefix + str(n), day, appears_at, booked_on, dropped_at, amount, name, iban, kind, purpose)
            )
        bookings.sort(key=lambda b: b.appears_at)
        return bookings

    def _appeared(self, key: str, after: datetime, until: datetime) -> Iterator[Booking]:
        day = after.astimezone(GERMAN_TIME).date()
        last = until.astimezone(GERMAN_TIME).date()
        while day <= last:
            for booking in self.bookings_on(key, day):
                if after < booking.appears_at <= until:
                    yield booking
            day += timedelta(days=1)

    # ------------------------------------------------------------------------------------------------ finAPI

    def open_account(self, account_id: int, key: str, at: datetime, balance: float | Decimal) -> list[int]:
        """A new account in finAPI: its import brings the last ``HISTORY_DAYS`` of bookings (imported ``at``);
        ``balance`` is the bank's balance at that moment."""
        account = _Account(key, at - timedelta(days=HISTORY_DAYS), Decimal(str(balance)).quantize(_CENT))
        self._accounts[account_id] = account
        imported = self.download(account_id, at).imported
        account.opening_balance -= sum((account.rows[i].amount for i in imported), Decimal(0))
        return imported

    def download(self, account_id: int, at: datetime) -> Download:
        """finAPI updates the account at ``at``: new bookings imported, old ones adjusted for, dropped ones deleted."""
        account = self._accounts[account_id]
        done = Download()
        window_start = at.astimezone(GERMAN_TIME).date() - timedelta(days=DOWNLOAD_WINDOW_DAYS)
        missed = Decimal(0)
        missed_any = False
        for booking in self._appeared(account.key, account.covered_until, at):
            if booking.dropped_at is not None and booking.dropped_at <= at:
                continue  # dropped before finAPI ever saw it: not in the bank's balance either
            if booking.day < window_start:
                missed += booking.amount
                missed_any = True
                continue
            done.imported.append(self._import(account_id, booking, at).id)
        for row in list(account.rows.values()):
            dropped = row.booking.dropped_at if row.booking else None
            if dropped is not None and dropped <= at:
                del account.rows[row.id]
                done.removed.append(row.id)
        if missed_any:
            first_day = window_start - timedelta(days=1)
            entry = Transaction(
                id=self._new_id(),
                account_id=account_id,
                amount=missed,
                imported_at=at,
                booked_on=first_day,
                value_date=first_day,
                counterpart=None,
                counterpart_iban=None,
                kind="Zwischensaldo",
                purpose="Zwischensaldo (Ausgleich für nicht mehr abrufbare Umsätze)",
                is_adjusting_entry=True,
            )
            account.rows[entry.id] = entry
            done.adjusting_entry = entry.id
            done.imported.append(entry.id)
        account.covered_until = max(account.covered_until, at)
        return done

    def _import(self, account_id: int, booking: Booking, at: datetime) -> Transaction:
        row = Transaction(
            id=self._new_id(),
            account_id=account_id,
            amount=booking.amount,
            imported_at=at,
            booked_on=booking.booked_on,
            value_date=booking.booked_on,
            counterpart=booking.counterpart,
            counterpart_iban=booking.counterpart_iban,
            kind=booking.kind,
            purpose=booking.purpose,
            booking=booking,
        )
        self._accounts[account_id].rows[row.id] = row
        return row

    def _new_id(self) -> int:
        while True:
            candidate = self._ids.randrange(1, 2**40)
            if candidate not in self._used_ids:
                self._used_ids.add(candidate)
                return candidate

    # ------------------------------------------------------------------------------------------------ reading

    def balance(self, account_id: int) -> Decimal:
        """finAPI's balance: the bank's at the last download (the transactions add up to it, adjusting entries
        included)."""
        account = self._accounts[account_id]
        return account.opening_balance + sum((r.amount for r in account.rows.values()), Decimal(0))

    def has(self, account_id: int) -> bool:
        return account_id in self._accounts

    def rows(self, account_ids: Iterable[int]) -> list[Transaction]:
        return [row for a in account_ids if a in self._accounts for row in self._accounts[a].rows.values()]

    def count(self, account_id: int) -> int:
        return len(self._accounts[account_id].rows) if account_id in self._accounts else 0
