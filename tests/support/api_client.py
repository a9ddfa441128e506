"""A small client of our HTTP API, as an app would use it (real HTTP to the local stack)."""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

import httpx

TERMINAL = frozenset({"SUCCEEDED", "FAILED", "EXPIRED"})


class BankUpdateApi:
    def __init__(self, base_url: str, token: str, *, user_agent: str = "BankApp/2.1 (iPhone; iOS 17.1)") -> None:
        self._http = httpx.Client(
            base_url=base_url,
            headers={"Authorization": f"Bearer {token}", "User-Agent": user_agent},
            timeout=30.0,
        )

    def close(self) -> None:
        self._http.close()

    def trigger(
        self, connection_id: int, body: dict[str, Any] | None = None, *, headers: dict[str, str] | None = None
    ) -> httpx.Response:
        return self._http.post(f"/v1/bank-connections/{connection_id}/updates", json=body or {}, headers=headers)

    def answer(self, update_id: str, body: dict[str, Any]) -> httpx.Response:
        return self._http.post(f"/v1/updates/{update_id}/authentication", json=body)

    def update(self, update_id: str) -> httpx.Response:
        return self._http.get(f"/v1/updates/{update_id}")

    def connection(self, connection_id: int) -> httpx.Response:
        return self._http.get(f"/v1/bank-connections/{connection_id}")

    def connection_schedule(self, connection_id: int, *, enabled: bool) -> httpx.Response:
        return self._http.put(f"/v1/bank-connections/{connection_id}/schedule", json={"enabled": enabled})

    def list_connections(self) -> httpx.Response:
        return self._http.get("/v1/bank-connections")

    def accounts(self, connection_id: int) -> httpx.Response:
        return self._http.get(f"/v1/bank-connections/{connection_id}/accounts")

    def changes(self, connection_id: int, **query: str | int) -> httpx.Response:
        return self._http.get(f"/v1/bank-connections/{connection_id}/transactions/changes", params=query)

    def post_raw(self, path: str, body: Any, headers: dict[str, str] | None = None) -> httpx.Response:
        return self._http.post(path, json=body, headers=headers)

    def get_raw(self, path: str) -> httpx.Response:
        return self._http.get(path)

    def wait_until_unlocked(self, connection_id: int, timeout: float = 15.0) -> dict[str, Any]:
        """Finalize releases the lock as its last step, a moment after the update shows its terminal status."""
        deadline = time.monotonic() + timeout
        while True:
            body: dict[str, Any] = self.connection(connection_id).json()
            if body["activeUpdateId"] is None or time.monotonic() > deadline:
                return body
            time.sleep(0.05)

    def wait_for(self, update_id: str, statuses: Iterable[str], timeout: float = 30.0) -> dict[str, Any]:
        wanted = set(statuses)
        deadline = time.monotonic() + timeout
        body: dict[str, Any] = {}
        while time.monotonic() < deadline:
            answer = self.update(update_id)
            assert answer.status_code == 200, answer.text
            body = answer.json()
            if body["status"] in wanted:
                return body
            if body["status"] in TERMINAL:
                raise AssertionError(f"update ended {body['status']} while waiting for {sorted(wanted)}: {body}")
            time.sleep(0.1)
        raise AssertionError(f"update {update_id} did not reach {sorted(wanted)} within {timeout} s: {body}")

    def answer_when_ready(self, update_id: str, body: dict[str, Any]) -> httpx.Response:
        """An answer right after the challenge was shown (the name of the stories that do so)."""
        return self.answer(update_id, body)
