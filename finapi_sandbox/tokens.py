"""finAPI's OAuth tokens: what the sandbox has issued, and `POST /oauth/token` (V1) and `POST /api/v2/oauth/token`
with finAPI's three grants."""

from __future__ import annotations

import secrets
import threading
import time
from dataclasses import dataclass
from typing import Any

from finapi_sandbox.config import SandboxConfig
from finapi_sandbox.problems import BadCredentials, bad_request
from finapi_sandbox.state import User

REFRESH_TTL_SECONDS = 86400


@dataclass
class Token:
    value: str
    principal: str  # username, or "" for the client
    expires_at: float
    refresh: bool = False
    refresh_value: str | None = None  # an access token's refresh token, given back with it


class Tokens:
    """Every token issued, by its value; a principal's current access token while it is valid."""

    def __init__(self, access_ttl_seconds: int) -> None:
        self._access_ttl_seconds = access_ttl_seconds
        self._lock = threading.Lock()
        self._tokens: dict[str, Token] = {}
        self._current: dict[str, str] = {}  # principal -> its access token while that is valid

    def issue(self, principal: str, *, refresh: bool) -> tuple[Token, Token | None]:
        """finAPI: "As long as a token exists and has not expired, the service will always return the same token for
        the same credentials" (with the same refresh token)."""
        with self._lock:
            current = self._tokens.get(self._current.get(principal, ""))
            if current is not None and current.expires_at > time.monotonic():
                return current, self._tokens.get(current.refresh_value or "")
            return self._new_access(principal, refresh_token=None if not refresh else self._new_refresh(principal))

    def renew(self, refresh_value: str) -> tuple[Token, Token] | None:
        """``grant_type=refresh_token``: a new access token; the refresh token stays the same."""
        with self._lock:
            refresh_token = self._valid(refresh_value, refresh=True)
            if refresh_token is None or not refresh_token.principal:
                return None
            access, _ = self._new_access(refresh_token.principal, refresh_token=refresh_token)
            return access, refresh_token

    def principal_of(self, value: str) -> str | None:
        """The user a valid access token belongs to; "" for the client's own."""
        with self._lock:
            found = self._valid(value, refresh=False)
            return None if found is None else found.principal

    def expire_access(self) -> None:
        """Make every access token invalid at once (as if finAPI revoked them)."""
        with self._lock:
            self._tokens = {k: v for k, v in self._tokens.items() if v.refresh}

    def _valid(self, value: str, *, refresh: bool) -> Token | None:
        found = self._tokens.get(value)
        if found is None or found.refresh != refresh or found.expires_at < time.monotonic():
            return None
        return found

    def _new_refresh(self, principal: str) -> Token:
        token = Token(secrets.token_hex(32), principal, time.monotonic() + REFRESH_TTL_SECONDS, refresh=True)
        self._tokens[token.value] = token
        return token

    def _new_access(self, principal: str, *, refresh_token: Token | None) -> tuple[Token, Token | None]:
        access = Token(
            secrets.token_hex(32),
            principal,
            time.monotonic() + self._access_ttl_seconds,
            refresh_value=refresh_token.value if refresh_token else None,
        )
        self._tokens[access.value] = access
        self._current[principal] = access.value
        return access, refresh_token


def check_client(config: SandboxConfig, form: dict[str, str]) -> None:
    """Bad client credentials are a 401 ``BadCredentialsError``, not an ``ErrorMessage`` (spec, `getToken`)."""
    if form.get("client_id") != config.client_id or form.get("client_secret") != config.client_secret:
        raise BadCredentials("invalid_client", "Bad client credentials")


def grant(tokens: Tokens, users: dict[str, User], form: dict[str, str]) -> dict[str, Any]:
    """The ``AccessToken`` for a valid client; bad user credentials and bad refresh tokens are a 400 (spec)."""
    kind = form.get("grant_type")
    if kind == "client_credentials":
        access, _ = tokens.issue("", refresh=False)
        return _answer(access, None)
    if kind == "password":
        user = users.get(form.get("username", ""))
        if user is None or user.password != form.get("password"):
            raise bad_request("Bad user credentials.")
        return _answer(*tokens.issue(user.username, refresh=True))
    if kind == "refresh_token":
        renewed = tokens.renew(form.get("refresh_token", ""))
        if renewed is None:
            raise bad_request("Invalid refresh token.")
        return _answer(*renewed)
    raise bad_request("Unsupported grant_type.")


def _answer(access: Token, refresh: Token | None) -> dict[str, Any]:
    # `expires_in` counts from now: a token handed out again has less time left than a new one.
    body: dict[str, Any] = {
        "access_token": access.value,
        "token_type": "bearer",
        "expires_in": max(1, int(access.expires_at - time.monotonic())),
        "scope": "all",
    }
    if refresh is not None:
        body["refresh_token"] = refresh.value
    return body
