"""The bank's unattended budget: without PSU headers, a consent may be used only a few times per day.

The day is the bank's day (configurable time zone, default Europe/Berlin), not UTC, so the count resets when the
bank's does. A reserve keeps some of the day's accesses for updates the user starts without PSU data.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo


@dataclass(frozen=True)
class UnattendedBudget:
    daily_limit: int
    reserve: int
    time_zone: str

    @property
    def usable_per_day(self) -> int:
        return max(0, self.daily_limit - self.reserve)

    def day_of(self, now: datetime) -> date:
        return now.astimezone(ZoneInfo(self.time_zone)).date()

    def day_key(self, now: datetime) -> str:
        return self.day_of(now).isoformat()

    def previous_day_key(self, now: datetime) -> str:
        return (self.day_of(now) - timedelta(days=1)).isoformat()

    def used(self, counts: dict[str, int], now: datetime) -> int:
        return counts.get(self.day_key(now), 0)

    def remaining(self, counts: dict[str, int], now: datetime) -> int:
        return max(0, self.usable_per_day - self.used(counts, now))

    def next_day_start(self, now: datetime) -> datetime:
        zone = ZoneInfo(self.time_zone)
        tomorrow = self.day_of(now) + timedelta(days=1)
        return datetime(tomorrow.year, tomorrow.month, tomorrow.day, tzinfo=zone)
