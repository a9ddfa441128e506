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
from bankupdate.finapi.budget import FinapiBudget
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
PSU_IP_ADDRESS = "PSU-IP-Address"
MAX_PER_PAGE = 500  # spec: a transactions page "can be at most 500"
_CLIENT_KEY = "\x00client"


def psu_headers(psu: PsuMetadata | None) -> dict[str, str]:
    """Any IP address goes on, IPv6 too: finAPI documents replacing a non-IPv4 one with its own IPv4 address, and the
    user still counts as present (domain/psu.py); should finAPI refuse it instead, ``update_bank_connection`` goes on
    without it. Only something that is no IP address at all is left out."""
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
        budget: FinapiBudget | None = None,
    ) -> None:
        """``budget``: how long one use case run may wait for finAPI in all (None: each request's timeouts only)."""
        self._version = api_version
        self._client_id = client_id
        self._client_secret = client_secret
        self._retry_attempts = retry_attempts
        self._sleep = sleep
        self._budget = budget
        self._read_timeout, self._connect_timeout = timeout_seconds, connect_timeout_seconds
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

    @property
    def base_url(self) -> str:
        return str(self._http.base_url)

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

    def forget_user_token(self, user: FinapiUser) -> None:
        """Drop the user's cached token (Web Form 2.0 refused it): the next request fetches a new one."""
        self._tokens.forget(user.cache_key)

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
        budget = self._budget
        try:
            if budget is None:
                return self._http.request(method, path, **kwargs)
            timeout = budget.timeout(connect=self._connect_timeout, read=self._read_timeout, what=f"{method} {path}")
            with budget.request():
                return self._http.request(method, path, timeout=timeout, **kwargs)
        except httpx.TimeoutException as error:
            raise UpstreamUnavailable(
                f"finAPI did not answer {method} {path} in time: {type(error).__name__}"
            ) from None
        except httpx.TransportError as error:
            raise UpstreamUnavailable(f"finAPI unreachable for {method} {path}: {type(error).__name__}") from None

    def _send_with_retries(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """Idempotent calls only: retried on transport errors and 5xx with exponential backoff and full jitter, as
        long as the attempts and the budget last."""
        for attempt in range(self._retry_attempts):
            try:
                response = self._send(method, path, **kwargs)
            except UpstreamUnavailable:
                if not self._paused_for_retry(attempt):
                    raise
            else:
                if response.status_code < 500 or not self._paused_for_retry(attempt):
                    return response
        raise AssertionError("unreachable")

    def _paused_for_retry(self, attempt: int) -> bool:
        """Wait before the next attempt; False if there is none (attempts used up, or the budget would not fit it)."""
        if attempt >= self._retry_attempts - 1:
            return False
        pause = random.uniform(0, 0.2 * 2**attempt)  # noqa: S311 - jitter, not cryptography
        if self._budget is not None:
            if not self._budget.allows_pause(pause):
                return False
            self._budget.spend(pause)
        self._sleep(pause)
        return True

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
        """Never retried automatically: finAPI may have started the update even if the answer got lost.

        The one exception: finAPI refusing the user's IP address (400 naming ``PSU-IP-Address``: its V1 spec takes
        only IPv4 there, finAPI did nothing). The call goes again without it, and the outcome says so: the bank then
        takes the access as unattended, against the connection's daily budget."""
        body = update_body(params, self._version)
        headers = psu_headers(psu)

        def send(sent: dict[str, str]) -> httpx.Response:
            path = f"{self._version.prefix}/bankConnections/update"
            return self._user_call(user, "POST", path, idempotent=False, request_id=request_id, headers=sent, json=body)

        response = send(headers)
        refused = PSU_IP_ADDRESS in headers and _refuses_header(response, PSU_IP_ADDRESS)
        if refused:
            response = send({name: value for name, value in headers.items() if name != PSU_IP_ADDRESS})
        answer_id = response.headers.get("X-Request-Id")
        payload = _json(response)
        if response.status_code == 200:
            connection = BankConnection.model_validate(payload)
            return UpdateAccepted(connection=connection, request_id=answer_id, psu_ip_address_refused=refused)
        if response.status_code == 510:
            message = parse_error_message(payload)
            challenge = message.errors[0].multi_step_authentication if message else None
            if message is not None and challenge is not None:
                return AuthenticationRequired(
                    challenge=challenge,
                    message=message.errors[0].message,
                    request_id=answer_id,
                    psu_ip_address_refused=refused,
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
        Never ``isNew``: that flag is the app's (decision D29)."""
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


def _refuses_header(response: httpx.Response, header: str) -> bool:
    """A 400 whose error names the header (finAPI's ``ErrorMessage``: "...header PSU-IP-Address...")."""
    if response.status_code != 400:
        return False
    message = parse_error_message(_json(response))
    return message is not None and any(header.lower() in (e.message or "").lower() for e in message.errors)


def _is_invalid_token(response: httpx.Response) -> bool:
    body = _json(response)
    return isinstance(body, dict) and body.get("error") == "invalid_token"


__all__ = ["BankUpdateError", "FinapiClient", "psu_headers"]
