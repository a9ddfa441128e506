"""What `make demo` prints is for a newcomer to read: words instead of Python's ``None``, one event per line."""

from __future__ import annotations

from typing import Any

import pytest

from scripts.demo import StatusTrail, account_line, procedure_line, run_line

DECOUPLED = {"procedureId": "905", "procedureName": "Demo Decoupled Auth", "challengeType": None}
SMS = {"procedureId": "901", "procedureName": "smsTAN", "challengeType": "TEXT"}


def _schedule(reason: str | None, used: int) -> dict[str, Any]:
    return {"lastSkipReason": reason, "unattendedUsedToday": used, "unattendedLeftToday": 4 - used}


@pytest.mark.parametrize(
    ("line", "says"),
    [
        (procedure_line(DECOUPLED), "905 Demo Decoupled Auth: approval in the banking app (decoupled)"),
        (procedure_line(SMS), "901 smsTAN: a TAN by text message or app"),
        (run_line(1, 3, 1, _schedule(None, 1)), "connection 1 updated, finAPI called 1x, bank budget 1/4"),
        (run_line(5, 2, 0, _schedule("BUDGET_EXHAUSTED", 4)), "connection 1 skipped: BUDGET_EXHAUSTED"),
        (account_line({"name": None, "iban": None, "status": "UPDATED", "balance": None, "newAccount": True}), "NEW"),
    ],
)
def test_a_line_says_what_happened_in_words(line: str, says: str) -> None:
    assert says in line and "None" not in line


def test_each_status_an_update_goes_through_is_a_line_of_its_own() -> None:
    # Given an update watched from 0 s, its first status seen at 0.5 s and its end at 3 s
    ticks = iter([0.0, 0.5, 3.0])
    trail = StatusTrail(clock=lambda: next(ticks))
    # When the looks see IN_PROGRESS three times, then SUCCEEDED
    lines = [trail.line(status) for status in ("IN_PROGRESS", "IN_PROGRESS", "IN_PROGRESS", "SUCCEEDED")]
    # Then each change is one line, saying when it came; a status already shown prints nothing
    assert lines == [
        "  update status IN_PROGRESS (after 0.5 s)",
        None,
        None,
        "  update status SUCCEEDED (after 3.0 s)",
    ]
