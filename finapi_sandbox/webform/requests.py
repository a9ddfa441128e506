"""`BankConnectionUpdateTaskDetails` as the Web Form 2.0 spec defines it, refused the way finAPI refuses it (400)."""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from finapi_sandbox.webform.config import WebFormConfig

AccountType = Literal["BAUSPAREN", "CHECKING", "CREDIT_CARD", "LOAN", "MEMBERSHIP", "SAVINGS", "SECURITY"]
ManageSavedSettings = Literal["CREDENTIALS", "DEFAULT_TWO_STEP_PROCEDURE"]

# The spec's pattern for `redirectUrl` and the callback URLs. finAPI validates with Java, which matches the whole value.
_HTTPS_URL = re.compile(
    r"https://(www\.)?[-a-zA-Z0-9@:%._+~#=]{1,256}\.[a-zA-Z0-9()]{1,63}\b([-a-zA-Z0-9()@:%_+.~#?&/=]*)"
)
_LOOPBACK_URL = re.compile(r"https?://(127\.0\.0\.1|localhost|\[::1\])(:\d{1,5})?([/?#][-a-zA-Z0-9()@:%_+.~#?&/=]*)?")

# Web Form 2.0 spells account types in upper snake case, Access in camel case.
ACCESS_ACCOUNT_TYPES = {
    "BAUSPAREN": "Bausparen",
    "CHECKING": "Checking",
    "CREDIT_CARD": "CreditCard",
    "LOAN": "Loan",
    "MEMBERSHIP": "Membership",
    "SAVINGS": "Savings",
    "SECURITY": "Security",
}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class TaskCallbacks(_Strict):
    finalised: str | None = Field(None, max_length=2048)
    webFormRequired: str | None = Field(None, max_length=2048)


class UserMetadata(_Strict):
    ipAddress: str = Field(max_length=64)
    deviceOs: str = Field(max_length=1024)
    userAgent: str = Field(max_length=1024)


class TaskDetails(_Strict):
    bankConnectionId: int = Field(ge=1, le=2**63 - 1)
    importNewAccounts: bool | None = None
    accountTypes: list[AccountType] | None = None
    skipPositionsDownload: bool | None = None
    loadOwnerData: bool | None = None
    manageSavedSettings: list[ManageSavedSettings] | None = None
    callbacks: TaskCallbacks | None = None
    profileId: str | None = Field(None, min_length=36, max_length=36)
    redirectUrl: str | None = Field(None, min_length=1, max_length=2048)
    userMetadata: UserMetadata | None = None


class InvalidRequest(Exception):
    """400 `ValidationError`: each entry is (field, message)."""

    def __init__(self, errors: list[tuple[str, str]]) -> None:
        super().__init__("; ".join(f"{field}: {message}" for field, message in errors))
        self.errors = errors


def parse_task_details(raw: bytes, content_type: str, config: WebFormConfig) -> TaskDetails:
    if content_type.split(";", maxsplit=1)[0].strip().lower() != "application/json":
        raise InvalidRequest([("Content-Type", "must be application/json")])
    try:
        details = TaskDetails.model_validate_json(raw or b"null")
    except ValidationError as error:
        raise InvalidRequest([_field_error(e) for e in error.errors()]) from None
    problems = _duplicates(details) + _url_problems(details, config)
    if problems:
        raise InvalidRequest(problems)
    return details


def _field_error(error: Any) -> tuple[str, str]:
    location = ".".join(str(part) for part in error["loc"] if not isinstance(part, int)) or "body"
    return location, str(error["msg"])


def _duplicates(details: TaskDetails) -> list[tuple[str, str]]:
    problems = []
    for name in ("accountTypes", "manageSavedSettings"):
        values = getattr(details, name)
        if values is not None and len(set(values)) != len(values):
            problems.append((name, "must not contain duplicate elements"))
    return problems


def _url_problems(details: TaskDetails, config: WebFormConfig) -> list[tuple[str, str]]:
    problems = []
    urls = {"redirectUrl": details.redirectUrl}
    if details.callbacks is not None:
        urls |= {
            "callbacks.finalised": details.callbacks.finalised,
            "callbacks.webFormRequired": details.callbacks.webFormRequired,
        }
    for field, url in urls.items():
        if url is not None and not allowed_url(url, config):
            problems.append((field, "must be an HTTPS URL"))
    licensed = config.license in ("FULLY_LICENSED", "AISP")
    if licensed and details.redirectUrl is None:
        problems.append(("redirectUrl", f"must be provided by mandators with license type {config.license}"))
    if not licensed and details.redirectUrl is not None:
        problems.append(("redirectUrl", f"must not be provided by mandators with license type {config.license}"))
    return problems


def allowed_url(url: str, config: WebFormConfig) -> bool:
    if _HTTPS_URL.fullmatch(url):
        return True
    return config.allow_http_loopback_urls and _LOOPBACK_URL.fullmatch(url) is not None
