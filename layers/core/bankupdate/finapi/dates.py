"""finAPI's two date formats: V1 ``YYYY-MM-DD HH:MM:SS.SSS`` in German time, V2 RFC 3339 with an offset."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

GERMAN_TIME = ZoneInfo("Europe/Berlin")


def parse_finapi_datetime(value: object) -> object:
    if not isinstance(value, str):
        return value
    text = value.strip()
    if "T" in text:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    try:
        # The C parser: strptime costs ~0.1 ms a date, and a page of 500 transactions has 1,500 of them.
        parsed = datetime.fromisoformat(text)
    except ValueError:
        parsed = datetime.strptime(text, "%Y-%m-%d %H:%M:%S.%f" if "." in text else "%Y-%m-%d %H:%M:%S")
    return parsed.replace(tzinfo=GERMAN_TIME)


def format_v1(moment: datetime) -> str:
    return moment.astimezone(GERMAN_TIME).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]


def format_v2(moment: datetime) -> str:
    return moment.astimezone(GERMAN_TIME).isoformat(timespec="milliseconds")
