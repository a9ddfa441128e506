"""OAuth tokens for finAPI: cached in memory only, refreshed before they expire, never logged."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from pydantic import SecretStr

from bankupdate.finapi.models import AccessToken

# A token this close to its expiry is treated as expired: a request started now must not arrive with a dead token.
EXPIRY_MARGIN_SECONDS = 60.0


@dataclass
class _CachedToken:
    access_token: SecretStr
    refresh_token: SecretStr | None
    expires_at: float

    def fresh(self, now: float) -> bool:
        return now < self.expires_at - EXPIRY_MARGIN_SECONDS


TokenRequest = Callable[[dict[str, str]], AccessToken]


class TokenCache:
    """One cached token per principal (the client itself, or a finAPI user)."""

    def __init__(self, request_token: TokenRequest, clock: Callable[[], float] = time.monotonic) -> None:
        self._request = request_token
        self._clock = clock
        self._tokens: dict[str, _CachedToken] = {}
        self._lock = threading.Lock()

    def _store(self, key: str, token: AccessToken) -> SecretStr:
        cached = _CachedToken(token.access_token, token.refresh_token, self._clock() + token.expires_in)
        with self._lock:
            self._tokens[key] = cached
        return cached.access_token

    def token(self, key: str, grant: dict[str, str] | Callable[[], dict[str, str]]) -> SecretStr:
        """``grant`` may be a callable: the credentials behind it are then only fetched when no token is cached."""
        with self._lock:
            cached = self._tokens.get(key)
        now = self._clock()
        if cached is not None and cached.fresh(now):
            return cached.access_token
        if cached is not None and cached.refresh_token is not None:
            try:
                refreshed = self._request(
                    {"grant_type": "refresh_token", "refresh_token": cached.refresh_token.get_secret_value()}
                )
            except Exception:
                refreshed = None
            if refreshed is not None:
                return self._store(key, refreshed)
        return self._store(key, self._request(grant() if callable(grant) else grant))

    def forget(self, key: str) -> None:
        with self._lock:
            self._tokens.pop(key, None)
