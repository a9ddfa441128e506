"""Each error of the catalogue has its HTTP status in the one table (api/statuses.py)."""

from __future__ import annotations

from bankupdate.api.statuses import HTTP_STATUS, http_status_of
from bankupdate.domain import errors


def _catalogue() -> list[type[errors.BankUpdateError]]:
    found, pending = [], [errors.BankUpdateError]
    while pending:
        kind = pending.pop()
        found.append(kind)
        pending.extend(kind.__subclasses__())
    return found


def test_every_error_has_a_status_of_its_own() -> None:
    assert [kind.__name__ for kind in _catalogue() if kind not in HTTP_STATUS] == []


def test_an_error_is_answered_with_its_status() -> None:
    # Given errors the API meets
    cases = {
        errors.TooManyUpdates("slow down"): 429,
        errors.NotFound("no such connection"): 404,
        errors.UpstreamUnavailable("finAPI is down"): 503,
        errors.Unauthenticated("no user"): 401,
    }
    # Then each is answered with the status the table gives it
    assert {type(e).__name__: http_status_of(e) for e in cases} == {type(e).__name__: s for e, s in cases.items()}
