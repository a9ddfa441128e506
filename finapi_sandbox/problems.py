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
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.error_type = error_type
        self.msa = msa
        self.bank = bank


def bad_request(message: str) -> FinapiProblem:
    return FinapiProblem(400, "BAD_REQUEST", message)


def illegal_field(message: str, bank: str | None = None) -> FinapiProblem:
    return FinapiProblem(422, "ILLEGAL_FIELD_VALUE", message, bank=bank)
