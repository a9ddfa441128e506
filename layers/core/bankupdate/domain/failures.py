"""Turn a state machine failure (a Catch's ``{"Error", "Cause"}``) back into a domain error.

Lambda reports our exceptions by class name, so the catalogue in ``errors`` is also the state machine's error names.
"""

from __future__ import annotations

import json

from pydantic import BaseModel, ConfigDict

from bankupdate.domain import errors
from bankupdate.domain.errors import AuthenticationExpired, BankUpdateError, UpdateTimedOut


class StateFailure(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="ignore")

    error: str = ""
    cause: str | None = None

    @classmethod
    def from_catch(cls, payload: dict[str, object]) -> StateFailure:
        cause = payload.get("Cause")
        return cls(error=str(payload.get("Error", "")), cause=str(cause) if cause else None)


def _catalogue() -> dict[str, type[BankUpdateError]]:
    found: dict[str, type[BankUpdateError]] = {}
    for value in vars(errors).values():
        if isinstance(value, type) and issubclass(value, BankUpdateError):
            found[value.__name__] = value
    return found


_BY_NAME = _catalogue()


def _message_from(cause: str | None) -> str:
    if not cause:
        return "no details"
    try:
        parsed = json.loads(cause)
    except ValueError:
        return cause[:500]
    if isinstance(parsed, dict):
        return str(parsed.get("errorMessage", cause))[:500]
    return cause[:500]


def error_from_failure(failure: StateFailure) -> BankUpdateError:
    if failure.error == "States.Timeout":
        # Only the callback task is bounded tighter than the whole execution: the user did not answer in time.
        return AuthenticationExpired("the user did not answer the bank's challenge in time")
    if failure.error == "DeadlineExceeded":
        return UpdateTimedOut("the update did not finish before its deadline")
    error_class = _BY_NAME.get(failure.error)
    if error_class is not None:
        return error_class(_message_from(failure.cause))
    name = failure.error or "an unknown error"
    return BankUpdateError(f"workflow step failed with {name}: {_message_from(failure.cause)}")
