"""finAPI answers the sandbox cannot produce (odd bodies, unknown codes), versions and secrets — no network."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import httpx
import pytest
from pydantic import SecretStr

from bankupdate.domain import errors
from bankupdate.finapi import (
    AccountType,
    ApiVersion,
    BankConnection,
    BankingInterface,
    FinapiClient,
    FinapiUserCredentials,
    LoginCredential,
    MultiStepAuthenticationCallback,
    PsuMetadata,
    UpdateBankConnectionParams,
    psu_headers,
)
from bankupdate.finapi.auth import TokenCache
from bankupdate.finapi.errors import error_for
from bankupdate.finapi.models import AccessToken
from bankupdate.finapi.versions import update_body

USER = FinapiUserCredentials(username="u", password=SecretStr("p"))
TOKEN = {"access_token": "t", "token_type": "bearer", "expires_in": 3600, "scope": "all", "refresh_token": "r"}


def error_body(code: str, message: str = "m", kind: str = "BUSINESS") -> dict[str, object]:
    return {
        "errors": [{"message": message, "code": code, "type": kind, "multiStepAuthentication": None}],
        "date": "2026-11-24 10:00:00.000",
        "requestId": "r",
        "endpoint": "POST /api/v1/bankConnections/update",
        "authContext": "1/1",
        "bank": None,
    }


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        (422, error_body("BANK_SERVER_REJECTION"), errors.BankRejected),
        (422, error_body("INVALID_CONSENT"), errors.ConsentInvalid),
        (422, error_body("MISSING_FIELD"), errors.CredentialsRequired),
        (422, error_body("ILLEGAL_FIELD_VALUE"), errors.UpstreamRejectedRequest),
        (422, error_body("NO_EXISTING_CHALLENGE"), errors.UpstreamRejectedRequest),
        (422, error_body("SOMETHING_NEW"), errors.UpstreamRejectedRequest),
        (400, error_body("BAD_REQUEST"), errors.UpstreamRejectedRequest),
        (423, error_body("LOCKED"), errors.UpdateLockedUpstream),
        (404, error_body("UNKNOWN_ENTITY"), errors.UpstreamNotFound),
        (403, error_body("UNAUTHORIZED_ACCESS"), errors.UpstreamAuthFailed),
        (401, {"error": "invalid_token", "error_description": "expired"}, errors.UpstreamAuthFailed),
        (501, error_body("UNSUPPORTED_BANK"), errors.BankUnsupported),
        (500, error_body("UNEXPECTED_ERROR"), errors.UpstreamUnavailable),
        (502, None, errors.UpstreamUnavailable),
        (503, "<html>busy</html>", errors.UpstreamUnavailable),
        (418, None, errors.UpstreamUnavailable),
    ],
)
def test_every_answer_maps_to_one_domain_error(status: int, body: object, expected: type[Exception]) -> None:
    error = error_for(status, body, "req-9")
    assert type(error) is expected
    assert error.upstream_status == status


def test_business_messages_reach_the_user_technical_ones_do_not() -> None:
    assert error_for(422, error_body("BANK_SERVER_REJECTION", "PIN gesperrt"), None).user_message == "PIN gesperrt"
    technical = error_for(400, error_body("BAD_REQUEST", "field x", "TECHNICAL"), None)
    assert technical.user_message == technical.default_user_message


def test_v1_and_v2_request_bodies() -> None:
    params = UpdateBankConnectionParams(
        bank_connection_id=7,
        interface=BankingInterface.XS2A,
        login_credentials=[LoginCredential(label="PIN", value=SecretStr("1234"))],
        account_types=[AccountType.CHECKING],
        multi_step_authentication=MultiStepAuthenticationCallback(hash="h", challenge_response=SecretStr("123456")),
    )
    v1, v2 = update_body(params, ApiVersion.V1), update_body(params, ApiVersion.V2)
    assert v1["interface"] == "XS2A" and "bankingInterface" not in v1
    assert v2["bankingInterface"] == "XS2A" and "interface" not in v2
    assert v1["loginCredentials"] == [{"label": "PIN", "value": "1234"}]
    assert v1["multiStepAuthentication"] == {"hash": "h", "challengeResponse": "123456"}
    with pytest.raises(errors.InvalidRequest):
        update_body(params.model_copy(update={"interface": None}), ApiVersion.V2)
    with pytest.raises(errors.InvalidRequest, match="Pocket"):
        update_body(params.model_copy(update={"account_types": [AccountType.POCKET]}), ApiVersion.V2)


def test_secrets_never_show_in_repr_or_dump() -> None:
    params = UpdateBankConnectionParams(
        bank_connection_id=7, login_credentials=[LoginCredential(label="PIN", value=SecretStr("1234"))]
    )
    assert "1234" not in repr(params) and "1234" not in params.model_dump_json()
    user = FinapiUserCredentials(username="u", password=SecretStr("hunter2"))
    assert "hunter2" not in repr(user) and "hunter2" not in user.model_dump_json()


def test_dates_of_both_versions_parse_to_the_same_instant() -> None:
    def connection(stamp: str) -> BankConnection:
        return BankConnection.model_validate(
            {
                "id": 1,
                "updateStatus": "READY",
                "interfaces": [{"interface": "XS2A", "lastManualUpdate": {"result": "OK", "timestamp": stamp}}],
            }
        )

    v1 = connection("2026-11-24 11:00:00.000").interfaces[0].last_manual_update
    v2 = connection("2026-11-24T11:00:00.000+01:00").interfaces[0].last_manual_update
    assert v1 is not None and v2 is not None
    assert v1.timestamp == v2.timestamp == datetime(2026, 11, 24, 10, 0, tzinfo=UTC)


def test_psu_headers_pass_any_ip_address_on() -> None:
    # Given PSU metadata with an IPv4, an IPv6 and something that is no address at all
    ipv4 = PsuMetadata(ip_address="10.1.2.3", device_os="iOS", user_agent="a")
    ipv6 = PsuMetadata(ip_address="2001:db8::1", device_os="iOS", user_agent="a")
    garbage = PsuMetadata(ip_address="localhost", device_os="iOS", user_agent="a")
    # When they become headers
    # Then both addresses go to finAPI (it replaces a non-IPv4 one itself), and only the non-address is left out
    assert psu_headers(ipv4) == {"PSU-IP-Address": "10.1.2.3", "PSU-Device-OS": "iOS", "PSU-User-Agent": "a"}
    assert psu_headers(ipv6)["PSU-IP-Address"] == "2001:db8::1"
    assert "PSU-IP-Address" not in psu_headers(garbage)
    assert psu_headers(None) == {}


def test_credentials_without_an_interface_are_never_sent() -> None:
    # Given login credentials and no interface
    params = UpdateBankConnectionParams(
        bank_connection_id=7, login_credentials=[LoginCredential(label="PIN", value=SecretStr("1234"))]
    )
    # When the V1 body is built, Then the client refuses: finAPI wants `interface` with credentials it has not stored
    with pytest.raises(errors.InvalidRequest) as refused:
        update_body(params, ApiVersion.V1)
    assert refused.value.details == {"field": "interface"}
    assert "1234" not in str(refused.value)
    # And without credentials, no interface is fine (finAPI uses the connection's own)
    assert "interface" not in update_body(params.model_copy(update={"login_credentials": None}), ApiVersion.V1)


def test_451_web_form_required_is_not_retryable_and_tells_the_operator_what_to_do() -> None:
    # Given finAPI's deprecated 451 with the web form's id as message
    body = error_body("WEB_FORM_REQUIRED", "285736")
    # When it is mapped
    error = error_for(451, body, "req-1")
    # Then it is its own error: no retry can succeed, and the operator learns to use Web Form 2.0
    assert type(error) is errors.WebFormRequired
    assert error.code == "WEB_FORM_REQUIRED" and not error.retryable
    assert "Web Form 2.0" in error.message and "285736" in error.message
    assert error.user_message == errors.WebFormRequired.default_user_message  # not the bare web form id
    assert type(error_for(451, None, None)) is errors.WebFormRequired


def test_token_cache_refreshes_near_expiry_and_falls_back_to_the_grant() -> None:
    now = [0.0]
    grants: list[str] = []

    def request(grant: dict[str, str]) -> AccessToken:
        grants.append(grant["grant_type"])
        if grant["grant_type"] == "refresh_token" and now[0] >= 7000:
            raise errors.UpstreamAuthFailed("refresh token expired")
        return AccessToken.model_validate(TOKEN | {"access_token": f"t{len(grants)}"})

    cache = TokenCache(request, clock=lambda: now[0])
    password = {"grant_type": "password"}
    assert cache.token("u", password).get_secret_value() == "t1"
    now[0] = 3000.0  # still fresh
    assert cache.token("u", password).get_secret_value() == "t1"
    now[0] = 3550.0  # within the expiry margin: refresh
    assert cache.token("u", password).get_secret_value() == "t2"
    now[0] = 7200.0  # refresh fails: password grant again
    cache.token("u", password)
    assert grants == ["password", "refresh_token", "refresh_token", "password"]


def test_update_is_not_retried_on_5xx_but_reads_are() -> None:
    calls = {"update": 0, "get": 0}

    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/oauth/token"):
            return httpx.Response(200, json=TOKEN)
        key = "update" if request.url.path.endswith("/update") else "get"
        calls[key] += 1
        return httpx.Response(503, json=error_body("UNEXPECTED_ERROR"))

    client = FinapiClient(
        base_url="http://finapi.test",
        client_id="c",
        client_secret="s",
        transport=httpx.MockTransport(answer),
        sleep=lambda _: None,
    )
    with pytest.raises(errors.UpstreamUnavailable):
        client.update_bank_connection(USER, UpdateBankConnectionParams(bank_connection_id=1))
    with pytest.raises(errors.UpstreamUnavailable):
        client.get_bank_connection(USER, 1)
    assert calls == {"update": 1, "get": 3}


def test_a_200_with_garbage_is_upstream_unavailable() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/oauth/token"):
            return httpx.Response(200, json=TOKEN)
        return httpx.Response(200, content=b"not json")

    client = FinapiClient(
        base_url="http://finapi.test", client_id="c", client_secret="s", transport=httpx.MockTransport(answer)
    )
    with pytest.raises(errors.UpstreamUnavailable):
        client.get_account(USER, 1)
    assert json.dumps(TOKEN)
