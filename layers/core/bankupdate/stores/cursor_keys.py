"""The key that signs sync cursors: a secret of the stack's own in Secrets Manager, read once per process (decision
D30: no AWS call per request, unlike KMS GenerateMac/VerifyMac). ``{"key": "..."}`` signs; an optional
``"previousKey"`` still verifies, so the key can be rotated without invalidating the cursors apps hold."""

from __future__ import annotations

import threading

from pydantic import BaseModel, ConfigDict, SecretStr

from bankupdate.domain.sync_cursor import CursorKey
from bankupdate.stores.aws import client

_MIN_KEY_CHARACTERS = 32


class _CursorSecret(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore", populate_by_name=True)

    key: SecretStr
    previousKey: SecretStr | None = None  # the secret's own JSON name


class SecretCursorKeys:
    def __init__(self, secret_id: str) -> None:
        self._secret_id = secret_id
        self._keys: tuple[CursorKey, ...] | None = None
        self._lock = threading.Lock()

    def keys(self) -> tuple[CursorKey, ...]:
        with self._lock:
            if self._keys is None:
                raw = client("secretsmanager").get_secret_value(SecretId=self._secret_id)["SecretString"]
                secret = _CursorSecret.model_validate_json(raw)
                given = [secret.key] + ([secret.previousKey] if secret.previousKey else [])
                if any(len(k.get_secret_value()) < _MIN_KEY_CHARACTERS for k in given):
                    raise ValueError(f"a cursor key must have at least {_MIN_KEY_CHARACTERS} characters")
                self._keys = tuple(CursorKey(k.get_secret_value().encode()) for k in given)
            return self._keys
