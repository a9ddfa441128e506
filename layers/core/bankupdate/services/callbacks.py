"""Web Form 2.0 callbacks for one update: a fresh token in our callback URLs, kept only as its digest.

Every update started through finAPI's Web Form 2.0 API gets them, user-present or scheduled: without its callbacks an
update waiting in finAPI's web form is noticed only by the fallback polls, up to WEBFORM_USER_FALLBACK_SECONDS late.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from bankupdate.domain.model import Integration, UpdateRecord
from bankupdate.domain.upstream import CallbackUrls
from bankupdate.ports import Clock, UpdateStore
from bankupdate.settings import Settings

CALLBACK_TOKEN_BYTES = 32


def callback_digest(token: str) -> str:
    """Callback tokens are kept only as digests: the table never holds what would let someone forge a callback."""
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass
class CallbackLinks:
    updates: UpdateStore
    clock: Clock
    settings: Settings
    base_url: Callable[[], str]

    def for_update(self, record: UpdateRecord) -> CallbackUrls | None:
        """The update's callback URLs, linked to it until it can no longer run (None outside Web Form 2.0 mode)."""
        if self.settings.integration is not Integration.WEB_FORM:
            return None
        token = secrets.token_urlsafe(CALLBACK_TOKEN_BYTES)
        expires = self.clock.now() + timedelta(seconds=self.settings.update_timeout_seconds)
        self.updates.link_callback(callback_digest(token), record.update_id, expires_at=expires)
        base = f"{self.base_url().rstrip('/')}/v1/webform-callbacks/{token}"
        return CallbackUrls(finalised=f"{base}/finalised", web_form_required=f"{base}/web-form-required")
