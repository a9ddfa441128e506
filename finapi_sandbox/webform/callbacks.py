"""Callbacks as finAPI sends them: an HTTP POST of a `TaskCallback` body whose answer is ignored.

finAPI promises no delivery guarantee, so the sandbox can make a callback late, send it twice or lose it (per
`CallbackPolicy`), and records every callback so tests can assert what the application was told.
"""

from __future__ import annotations

import http.client
import json
import ssl
import threading
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from finapi_sandbox.webform.config import CallbackPolicy, WebFormConfig
from finapi_sandbox.webform.state import CallbackRecord


class CallbackDispatcher:
    def __init__(self, config: WebFormConfig, now: Callable[[], datetime]) -> None:
        self._config = config
        self._now = now
        self._lock = threading.Condition()
        self._policies: list[CallbackPolicy] = list(config.callback_policies)
        self._uses: dict[int, int] = {}
        self._records: list[CallbackRecord] = []
        self._threads: list[threading.Thread] = []

    # ------------------------------------------------------------------------------------------------ control

    def add_policy(self, policy: CallbackPolicy) -> None:
        with self._lock:
            self._policies.append(policy)

    def clear(self) -> None:
        with self._lock:
            self._policies = list(self._config.callback_policies)
            self._uses = {}
            self._records = []

    @property
    def records(self) -> list[CallbackRecord]:
        with self._lock:
            return list(self._records)

    def wait_for(self, predicate: Callable[[list[CallbackRecord]], bool], timeout: float) -> list[CallbackRecord]:
        """The records once `predicate` holds for them (or as they are when `timeout` ends)."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while not predicate(self._records):
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._lock.wait(left)
            return list(self._records)

    def stop(self) -> None:
        for thread in list(self._threads):
            thread.join(timeout=self._config.callback_timeout_seconds + 1)

    # ------------------------------------------------------------------------------------------------ sending

    def send(self, kind: str, url: str | None, task_id: str, body: dict[str, Any]) -> None:
        if not url:
            return
        policy = self._policy_for(kind)
        if policy.drop:
            self._record(CallbackRecord(kind, task_id, url, body, self._now(), True, None, None))
            return
        thread = threading.Thread(
            target=self._deliver, args=(kind, url, task_id, body, policy), name=f"callback-{kind}", daemon=True
        )
        with self._lock:
            self._threads = [t for t in self._threads if t.is_alive()] + [thread]
        thread.start()

    def _policy_for(self, kind: str) -> CallbackPolicy:
        with self._lock:
            for index in range(len(self._policies) - 1, -1, -1):  # the latest matching policy wins
                policy = self._policies[index]
                if policy.kind not in (None, kind):
                    continue
                if policy.times is not None:
                    if self._uses.get(index, 0) >= policy.times:
                        continue
                    self._uses[index] = self._uses.get(index, 0) + 1
                return policy
        return CallbackPolicy()

    def _deliver(self, kind: str, url: str, task_id: str, body: dict[str, Any], policy: CallbackPolicy) -> None:
        if policy.delay_seconds:
            time.sleep(policy.delay_seconds)
        for _ in range(policy.copies):
            status, error = self._post(url, body)
            self._record(CallbackRecord(kind, task_id, url, body, self._now(), False, status, error))

    def _post(self, url: str, body: dict[str, Any]) -> tuple[int | None, str | None]:
        parts = urlsplit(url)
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        timeout = self._config.callback_timeout_seconds
        connection: http.client.HTTPConnection
        if parts.scheme == "https":
            connection = http.client.HTTPSConnection(
                parts.hostname or "", parts.port, timeout=timeout, context=ssl.create_default_context()
            )
        else:
            connection = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=timeout)
        try:
            connection.request(
                "POST", path, body=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
            )
            response = connection.getresponse()
            response.read()
            return response.status, None  # finAPI ignores the answer; the sandbox only records it
        except (OSError, http.client.HTTPException) as error:
            return None, type(error).__name__
        finally:
            connection.close()

    def _record(self, record: CallbackRecord) -> None:
        with self._lock:
            self._records.append(record)
            self._lock.notify_all()
