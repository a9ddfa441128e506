"""The finAPI Access client: typed calls, OAuth, PSU headers, request ids, and exactly one mapping of answers."""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Callable, Sequence
from datetime import date
from typing import Any, Protocol

import httpx

from bankupdate.domain.errors import BankUpdateError, UpstreamAuthFailed, UpstreamUnavailable
from bankupdate.domain.psu import ip_or_none
from bankupdate.finapi.auth import TokenCache
from bankupdate.finapi.errors import error_for, parse_error_message
from bankupdate.finapi.models import (
    AccessToken,
    Account,
    AuthenticationRequired,
    BankConnection,
    FinapiUserCredentials,
    PsuMetadata,
    TransactionPage,
    UpdateAccepted,
    UpdateBankConnectionParams,
    UpdateOutcome,
)
from bankupdate.finapi.versions import ApiVersion, update_body


class FinapiUser(Protocol):
    """A finAPI user whose password is fetched only when no token of theirs is cached (``cache_key`` identifies
    them without it)."""

    @property
    def cache_key(self) -> str: ...

    def credentials(self) -> FinapiUserCredentials: ...


MAX_REQUEST_ID = 255
MAX_IDS_PER_CALL = 1000
MAX_PER_PAGE = 500  # spec: a transactions page "can be at most 500"
_CLIENT_KEY = "\x00client"


def psu_headers(psu: PsuMetadata | None) -> dict[str, str]:
    """Any IP address goes on, IPv6 too: finAPI replaces a non-IPv4 one with its own IPv4 address, and the user still
    counts as present (domain/psu.py). Only something that is no IP address at all is left out."""
    if psu is None:
        return {}
    headers = {
        "PSU-Device-OS": psu.device_os,
        "PSU-User-Agent": psu.user_agent,
        "PSU-IP-Address": ip_or_none(psu.ip_address),
    }
    return {name: value for name, value in headers.items() if value}


class FinapiClient:
    def __init__(
        self,
        *,
        base_url: str,
        client_id: str,
        client_secret: str,
        api_version: ApiVersion = ApiVersion.V1,
        timeout_seconds: float = 30.0,
        connect_timeout_seconds: float = 5.0,
        transport: httpx.BaseTransport | None = None,
        retry_attempts: int = 3,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._version = api_version
        self._client_id = client_id
        self._client_secret = client_secret
        self._retry_attempts = retry_attempts
        self._sleep = sleep
        self._http = httpx.Client(
            base_url=base_url.rstrip("/"),
            timeout=httpx.Timeout(timeout_seconds, connect=connect_timeout_seconds, pool=connect_timeout_seconds),
            transport=transport,
            headers={"Accept": "application/json"},
        )
        self._tokens = TokenCache(self._request_token)

    @property
    def api_version(self) -> ApiVersion:
        return self._version

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> FinapiClient:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # --------------------------------------------------------------------------------------------- tokens

    def _request_token(self, grant: dict[str, str]) -> AccessToken:
        form = grant | {"client_id": self._client_id, "client_secret": self._client_secret}
        response = self._send_with_retries("POST", self._version.token_path, data=form)
        if response.status_code == 200:
            return AccessToken.model_validate(response.json())
        error = error_for(response.status_code, _json(response), response.headers.get("X-Request-Id"))
        if response.status_code in (400, 401, 403, 423):
            who = "user" if grant.get("grant_type") == "password" else "client"
            raise UpstreamAuthFailed(
                f"finAPI refused the {who} credentials ({response.status_code})",
                upstream_status=response.status_code,
                upstream_code=error.upstream_code,
                request_id=error.request_id,
            )
        raise error

    def client_token(self) -> str:
        grant = {"grant_type": "client_credentials"}
        return self._tokens.token(_CLIENT_KEY, grant).get_secret_value()

    def user_token(self, user: FinapiUser) -> str:
        """The user's access token (cached); Web Form 2.0 takes the same token."""
        return self._user_token(user)

    def _user_token(self, user: FinapiUser) -> str:
        def grant() -> dict[str, str]:
            credentials = user.credentials()
            return {
                "grant_type": "password",
                "username": credentials.username,
                "password": credentials.password.get_secret_value(),
            }

        return self._tokens.token(user.cache_key, grant).get_secret_value()

    # --------------------------------------------------------------------------------------------- transport

    def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            return self._http.request(method, path, **kwargs)
        except httpx.TimeoutException as error:
            raise UpstreamUnavailable(
                f"finAPI did not answer {method} {path} in time: {type(error).__name__}"
            ) from None
        except httpx.TransportError as error:
            raise UpstreamUnavailable(f"finAPI unreachable for {method} {path}: {type(error).__name__}") from None

    def _send_with_retries(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """Idempotent calls only: retried on transport errors and 5xx with exponential backoff and full jitter."""
        for attempt in range(self._retry_attempts):
            last_attempt = attempt == self._retry_attempts - 1
            try:
                response = self._send(method, path, **kwargs)
            except UpstreamUnavailable:
                if last_attempt:
                    raise
            else:
                if response.status_code < 500 or last_attempt:
                    return response
            self._sleep(random.uniform(0, 0.2 * 2**attempt))  # noqa: S311 - jitter, not cryptography
        raise AssertionError("unreachable")

    def _user_call(
        self,
        user: FinapiUser,
        method: str,
        path: str,
        *,
        idempotent: bool,
        request_id: str | None = None,
        headers: dict[str, str] | None = None,
        **kwargs: Any,
    ) -> httpx.Response:
        request_id = (request_id or f"bankupdate-{uuid.uuid4()}")[:MAX_REQUEST_ID]
        send = self._send_with_retries if idempotent else self._send
        for attempt in range(2):
            token = self._user_token(user)
            all_headers = {"Authorization": f"Bearer {token}", "X-Request-Id": request_id} | (headers or {})
            response = send(method, path, headers=all_headers, **kwargs)
            if response.status_code == 401 and attempt == 0 and _is_invalid_token(response):
                # The token expired or was revoked early: finAPI did nothing, so one retry is safe even for updates.
                self._tokens.forget(user.cache_key)
                continue
            return response
        return response

    # --------------------------------------------------------------------------------------------- API calls

    def update_bank_connection(
        self,
        user: FinapiUser,
        params: UpdateBankConnectionParams,
        *,
        psu: PsuMetadata | None = None,
        request_id: str | None = None,
    ) -> UpdateOutcome:
        """Never retried automatically: finAPI may have started the update even if the answer got lost."""
        body = update_body(params, self._version)
        response = self._user_call(
            user,
            "POST",
            f"{self._version.prefix}/bankConnections/update",
            idempotent=False,
            request_id=request_id,
            headers=psu_headers(psu),
            json=body,
        )
        answer_id = response.headers.get("X-Request-Id")
        payload = _json(response)
        if response.status_code == 200:
            return UpdateAccepted(connection=BankConnection.model_validate(payload), request_id=answer_id)
        if response.status_code == 510:
            message = parse_error_message(payload)
            challenge = message.errors[0].multi_step_authentication if message else None
            if message is not None and challenge is not None:
                return AuthenticationRequired(
                    challenge=challenge, message=message.errors[0].message, request_id=answer_id
                )
        raise error_for(response.status_code, payload, answer_id)

    def get_bank_connection(self, user: FinapiUser, connection_id: int) -> BankConnection:
        response = self._user_call(
            user, "GET", f"{self._version.prefix}/bankConnections/{connection_id}", idempotent=True
        )
        return BankConnection.model_validate(self._ok(response))

    def get_bank_connections(self, user: FinapiUser, ids: Sequence[int]) -> list[BankConnection]:
        found: list[BankConnection] = []
        for start in range(0, len(ids), MAX_IDS_PER_CALL):
            chunk = ",".join(str(i) for i in ids[start : start + MAX_IDS_PER_CALL])
            response = self._user_call(
                user, "GET", f"{self._version.prefix}/bankConnections", idempotent=True, params={"ids": chunk}
            )
            body = self._ok(response)
            found += [BankConnection.model_validate(c) for c in body.get("connections", [])]
        return found

    def list_bank_connections(self, user: FinapiUser) -> list[BankConnection]:
        """All of the user's connections (finAPI answers every connection when no ids are given)."""
        response = self._user_call(user, "GET", f"{self._version.prefix}/bankConnections", idempotent=True)
        return [BankConnection.model_validate(c) for c in self._ok(response).get("connections", [])]

    def get_account(self, user: FinapiUser, account_id: int) -> Account:
        response = self._user_call(user, "GET", f"{self._version.prefix}/accounts/{account_id}", idempotent=True)
        return Account.model_validate(self._ok(response))

    def accounts_of_connection(self, user: FinapiUser, connection_id: int) -> list[Account]:
        response = self._user_call(
            user,
            "GET",
            f"{self._version.prefix}/accounts",
            idempotent=True,
            params={"bankConnectionIds": str(connection_id)},
        )
        return [Account.model_validate(a) for a in self._ok(response).get("accounts", [])]

    def transactions_page(
        self,
        user: FinapiUser,
        *,
        page: int,
        account_ids: Sequence[int] = (),
        ids: Sequence[int] = (),
        min_import_date: date | None = None,
        per_page: int = MAX_PER_PAGE,
    ) -> TransactionPage:
        """One page of finAPI's transaction search (``bankView``: as the bank delivered them), by id ascending.
        Never ``isNew``: that flag is the app's (decision D27)."""
        params: dict[str, str | int] = {"view": "bankView", "page": page, "perPage": per_page, "order": "id,asc"}
        if account_ids:
            params["accountIds"] = ",".join(map(str, account_ids))
        if ids:
            if len(ids) > MAX_IDS_PER_CALL:
                raise ValueError(f"at most {MAX_IDS_PER_CALL} ids per call")
            params["ids"] = ",".join(map(str, ids))
        if min_import_date is not None:
            params["minImportDate"] = min_import_date.isoformat()
        response = self._user_call(user, "GET", f"{self._version.prefix}/transactions", idempotent=True, params=params)
        return TransactionPage.model_validate(self._ok(response))

    @staticmethod
    def _ok(response: httpx.Response) -> Any:
        payload = _json(response)
        if response.status_code != 200:
            raise error_for(response.status_code, payload, response.headers.get("X-Request-Id"))
        if payload is None:
            raise UpstreamUnavailable("finAPI answered 200 without a JSON body")
        return payload


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def _is_invalid_token(response: httpx.Response) -> bool:
    body = _json(response)
    return isinstance(body, dict) and body.get("error") == "invalid_token"


__all__ = ["BankUpdateError", "FinapiClient", "psu_headers"]
