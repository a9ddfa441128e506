"""An error answer the sandbox gives, before it is rendered as finAPI's ErrorMessage."""

from __future__ import annotations

from typing import Any


class FinapiProblem(Exception):
    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        error_type: str = "TECHNICAL",
        msa: dict[str, Any] | None = None,
        bank: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.error_type = error_type
        self.msa = msa
        self.bank = bank
        self.headers = headers or {}


def bad_request(message: str) -> FinapiProblem:
    return FinapiProblem(400, "BAD_REQUEST", message)


def illegal_field(message: str, bank: str | None = None) -> FinapiProblem:
    return FinapiProblem(422, "ILLEGAL_FIELD_VALUE", message, bank=bank)


def unauthorized_access() -> FinapiProblem:
    """403: finAPI's answer when a token of the wrong kind (the client's on a user endpoint) is used."""
    return FinapiProblem(403, "UNAUTHORIZED_ACCESS", "Access is denied")


def not_modelled(method: str, path: str) -> FinapiProblem:
    """An operation finAPI has but the sandbox does not play: a 500, the one answer the spec declares for all."""
    return FinapiProblem(500, "UNEXPECTED_ERROR", f"The sandbox does not model {method} {path}.")


class BadCredentials(Exception):
    """finAPI's authentication errors, which are not an ErrorMessage but ``{error, error_description}`` (401)."""

    def __init__(self, error: str, description: str) -> None:
        super().__init__(description)
        self.error = error
        self.description = description
