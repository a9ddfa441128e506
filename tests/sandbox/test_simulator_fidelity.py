"""The sandbox answers and refuses as finAPI's spec says (issue 12, findings 8-11), one finding per test.

Time here is the sandbox's clock, moved on by the tests (downloads take a minute of it), so nothing waits or races.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from pydantic import ValidationError

from finapi_sandbox import FaultRule, SandboxConfig, SandboxServer
from tests.conftest import SANDBOX_TEST_SETTINGS
from tests.sandbox.conftest import DEMO, NO_SCA, PSU, Finapi, Owner, challenge, first_error

MINUTE = 60.0


@pytest.fixture(scope="module")
def sandbox() -> Iterator[SandboxServer]:
    """finAPI's pace: downloads and categorization take a minute, decoupled polls at most every 5 s."""
    settings = SANDBOX_TEST_SETTINGS | {"decoupled_min_interval_seconds": 5.0}
    config = SandboxConfig.default().model_copy(
        update={"download_seconds": MINUTE, "categorization_seconds": MINUTE} | settings
    )
    with SandboxServer(config) as server:
        yield server


@pytest.fixture(autouse=True)
def real_time(sandbox: SandboxServer) -> Iterator[None]:
    yield
    sandbox.world.set_clock_offset(0)


def later(sandbox: SandboxServer, seconds: float) -> None:
    sandbox.world.set_clock_offset(sandbox.world.clock_offset + seconds)


def update(finapi: Finapi, who: Owner, *, headers: dict[str, str] | None = None, **fields: Any) -> httpx.Response:
    return finapi.update(who.token, {"bankConnectionId": who.connection} | fields, headers=headers)


# ------------------------------------------------------------------------------------ 8: credentials need interface


def test_credentials_without_interface_are_refused_unless_finapi_has_them(
    finapi: Finapi, owner: Callable[..., Owner]
) -> None:
    # Given a connection that has the login name stored but not the PIN
    who = owner(consent_expires_at=None, download_seconds=0)
    # When the PIN comes without an interface
    refused = update(finapi, who, headers=PSU, loginCredentials=[{"label": "PIN", "value": "demo_no_msa"}])
    # Then finAPI refuses, naming the missing field ("must be passed in combination with the 'interface' field")
    assert refused.status_code == 422 and first_error(refused)["code"] == "MISSING_FIELD"
    assert "'interface'" in first_error(refused)["message"] and "demo_no_msa" not in refused.text
    # And only credentials it has stored may come without it
    stored = update(finapi, who, headers=PSU, loginCredentials=[{"label": "Onlinebanking-ID", "value": "demo"}])
    assert first_error(stored)["code"] == "MISSING_FIELD" and "PIN" in first_error(stored)["message"]
    accepted = update(finapi, who, headers=PSU, interface="XS2A", loginCredentials=NO_SCA)
    assert accepted.status_code == 200


# ------------------------------------------------------------------------------------ 9: any PSU-IP-Address


def test_an_ipv6_psu_address_is_taken_and_the_user_counts_as_present(
    finapi: Finapi, owner: Callable[..., Owner], sandbox: SandboxServer
) -> None:
    # Given a connection whose four unattended accesses of the day are used up
    who = owner(download_seconds=0)
    assert [update(finapi, who, interface="XS2A").status_code for _ in range(4)] == [200] * 4
    # When the user triggers from an IPv6 network
    ipv6 = update(finapi, who, headers=PSU | {"PSU-IP-Address": "2001:db8::7"}, interface="XS2A")
    # Then finAPI takes it (it replaces a non-IPv4 address with its own) and the bank sees the user present
    assert ipv6.status_code == 200, ipv6.text
    assert sandbox.world.calls[-1].psu_present
    # And without an address the bank counts the access as unattended, whatever the other PSU headers say
    no_address = {"PSU-Device-OS": "iOS 17", "PSU-User-Agent": "BankApp/2.1"}
    refused = update(finapi, who, headers=no_address, interface="XS2A")
    assert refused.status_code == 422 and first_error(refused)["code"] == "BANK_SERVER_REJECTION"


def test_a_finapi_that_applies_its_ipv4_rule_refuses_an_ipv6_psu_address_naming_the_header(
    finapi: Finapi, owner: Callable[..., Owner], sandbox: SandboxServer
) -> None:
    # Given a finAPI that applies its V1 spec's `format: ipv4` to PSU-IP-Address (issue 20: not documented either way)
    who = owner(download_seconds=0)
    sandbox.world.set_psu_ipv6("refused")
    try:
        # When the user triggers from an IPv6 network, and from an IPv4 one
        ipv6 = update(finapi, who, headers=PSU | {"PSU-IP-Address": "2001:db8::7"}, interface="XS2A")
        ipv4 = update(finapi, who, headers=PSU, interface="XS2A")
    finally:
        sandbox.world.set_psu_ipv6("replaced")
    # Then the IPv6 one is refused with finAPI's 400 naming the header (nothing started), the IPv4 one taken
    assert ipv6.status_code == 400 and first_error(ipv6)["code"] == "BAD_REQUEST"
    assert "PSU-IP-Address" in first_error(ipv6)["message"]
    assert ipv4.status_code == 200, ipv4.text


# ------------------------------------------------------------------------------------ 10: deprecated 451


def test_the_old_web_form_answers_451_with_the_form_id_and_its_location(
    finapi: Finapi, owner: Callable[..., Owner]
) -> None:
    # Given a connection of a mandator on finAPI's old Web Form
    who = owner(consent_expires_at=None, legacy_web_form=True)
    # When an update needs the user
    answer = update(finapi, who, headers=PSU, interface="XS2A", loginCredentials=DEMO)
    # Then V1 answers 451 WEB_FORM_REQUIRED: the web form's id as message, its URL in Location
    assert answer.status_code == 451
    error = first_error(answer)
    assert (error["code"], error["type"]) == ("WEB_FORM_REQUIRED", "BUSINESS") and error["message"].isdigit()
    assert answer.headers["Location"].endswith(f"/webForms/{error['message']}")
    # And V2, which has no 451, goes on with the bank's own authentication
    v2 = finapi.update(
        who.token,
        {"bankConnectionId": who.connection, "bankingInterface": "XS2A", "loginCredentials": DEMO},
        headers=PSU,
        version="v2",
    )
    assert v2.status_code == 510


# ------------------------------------------------------------------------------------ 11: the smaller differences


def test_bad_client_credentials_are_a_401_bad_credentials_error(finapi: Finapi) -> None:
    answer = httpx.post(
        f"{finapi.base}/oauth/token", data={"grant_type": "client_credentials", "client_id": "x", "client_secret": "y"}
    )
    assert answer.status_code == 401
    assert set(answer.json()) == {"error", "error_description"} and answer.headers["X-Request-Id"]


def test_the_same_credentials_get_the_same_token_while_it_is_valid(
    finapi: Finapi, owner: Callable[..., Owner], sandbox: SandboxServer
) -> None:
    who = owner()
    first = finapi.token_answer(grant_type="password", username=who.username, password="pw").json()
    again = finapi.token_answer(grant_type="password", username=who.username, password="pw").json()
    assert again["access_token"] == first["access_token"] == who.token
    assert again["refresh_token"] == first["refresh_token"] and again["expires_in"] <= first["expires_in"]
    assert finapi.client_token() == finapi.client_token()
    # Once the token is gone, the same credentials get a new one
    sandbox.world.expire_tokens()
    assert finapi.user_token(who.username) != who.token


def test_a_client_token_on_a_user_endpoint_is_403(finapi: Finapi) -> None:
    answer = finapi.get("/api/v1/bankConnections/1", finapi.client_token())
    assert answer.status_code == 403 and first_error(answer)["code"] == "UNAUTHORIZED_ACCESS"


def test_accounts_can_be_listed_and_filtered(
    finapi: Finapi, owner: Callable[..., Owner], sandbox: SandboxServer
) -> None:
    who = owner(imported_account_count=3)
    ids = sandbox.world.connection(who.connection)["accountIds"]

    def listed(**query: str) -> list[int]:
        answer = finapi.get("/api/v1/accounts", who.token, params=query)
        assert answer.status_code == 200, answer.text
        return [a["id"] for a in answer.json()["accounts"]]

    assert listed() == ids
    assert listed(ids=f"{ids[0]},{ids[2]}") == [ids[0], ids[2]]
    assert listed(bankConnectionIds=str(who.connection), accountTypes="Savings") == [ids[2]]
    assert listed(accountTypeIds="1") == ids[:2]
    assert listed(search="girokonto") == [ids[0]]
    assert listed(minBalance="1000", maxBalance="2000") == [ids[0]]
    assert listed(bankConnectionIds="3") == []  # another user's connection


@pytest.mark.finapi_invalid_requests
def test_a_non_numeric_id_is_a_400(finapi: Finapi, owner: Callable[..., Owner]) -> None:
    who = owner()
    for path in ("/api/v1/bankConnections/abc", "/api/v1/accounts/1x", "/api/v2/bankConnections/abc"):
        answer = finapi.get(path, who.token)
        assert answer.status_code == 400 and first_error(answer)["code"] == "BAD_REQUEST", path


def test_an_x_request_id_over_255_characters_is_refused(finapi: Finapi, owner: Callable[..., Owner]) -> None:
    who = owner()
    path = f"/api/v1/bankConnections/{who.connection}"
    longest = finapi.get(path, who.token, headers={"X-Request-Id": "r" * 255})
    assert longest.status_code == 200 and longest.headers["X-Request-Id"] == "r" * 255
    too_long = finapi.get(path, who.token, headers={"X-Request-Id": "r" * 256})
    assert too_long.status_code == 400 and "X-Request-Id" in first_error(too_long)["message"]
    assert too_long.headers["X-Request-Id"].startswith("selfgen-")


def test_a_changed_login_name_is_saved_and_the_pin_only_with_store_secrets(
    finapi: Finapi, owner: Callable[..., Owner]
) -> None:
    # Given a connection with the login name "demo" stored and no PIN
    who = owner(download_seconds=0)

    def stored() -> dict[str, Any]:
        connection = finapi.get(f"/api/v1/bankConnections/{who.connection}", who.token).json()
        return {c["label"]: c["value"] for c in connection["interfaces"][0]["loginCredentials"]}

    # When the user logs in with another name
    assert update(finapi, who, headers=PSU, interface="XS2A", loginCredentials=NO_SCA).status_code == 200
    # Then finAPI keeps the new name, not the PIN
    assert stored() == {"Onlinebanking-ID": "demo_no_msa", "PIN": None}
    # And with storeSecrets it keeps the PIN too (shown masked)
    update(finapi, who, headers=PSU, interface="XS2A", loginCredentials=NO_SCA, storeSecrets=True)
    assert stored() == {"Onlinebanking-ID": "demo_no_msa", "PIN": "XXXXX"}


def test_categorization_goes_pending_then_in_progress_then_ready(
    finapi: Finapi, owner: Callable[..., Owner], sandbox: SandboxServer
) -> None:
    who = owner(failing_account_indexes=[1])
    assert update(finapi, who, headers=PSU, interface="XS2A").status_code == 200
    seen = []
    for _ in range(4):
        connection = finapi.get(f"/api/v1/bankConnections/{who.connection}", who.token).json()
        seen.append((connection["updateStatus"], connection["categorizationStatus"]))
        later(sandbox, MINUTE / 2 + 1)
    assert seen == [
        ("IN_PROGRESS", "READY"),  # the last categorization; the new one starts after the download
        ("IN_PROGRESS", "READY"),
        ("READY", "PENDING"),
        ("READY", "IN_PROGRESS"),
    ]
    later(sandbox, MINUTE)
    assert finapi.get(f"/api/v1/bankConnections/{who.connection}", who.token).json()["categorizationStatus"] == "READY"
    accounts = finapi.get("/api/v1/accounts", who.token, params={"bankConnectionIds": str(who.connection)}).json()
    assert sorted(a["status"] for a in accounts["accounts"]) == ["DOWNLOAD_FAILED", "UPDATED"]


def test_decoupled_polls_faster_than_every_5_seconds_are_refused(
    finapi: Finapi, owner: Callable[..., Owner], sandbox: SandboxServer
) -> None:
    who = owner(consent_expires_at=None, download_seconds=0)
    body = {"interface": "XS2A", "loginCredentials": DEMO}
    msa = challenge(update(finapi, who, headers=PSU, **body))
    msa = challenge(
        update(finapi, who, headers=PSU, **body, multiStepAuthentication=_cb(msa, twoStepProcedureId="905"))
    )
    confirm = {"decoupledCallback": True}
    msa = challenge(update(finapi, who, headers=PSU, **body, multiStepAuthentication=_cb(msa, **confirm)))
    assert msa["status"] == "DECOUPLED_AUTH_IN_PROGRESS"
    # When the app asks again right away
    too_soon = update(finapi, who, headers=PSU, **body, multiStepAuthentication=_cb(msa, **confirm))
    # Then the bank refuses this access, and the authorization stays pending for a call that waits 5 s
    assert too_soon.status_code == 422 and first_error(too_soon)["code"] == "BANK_SERVER_REJECTION"
    later(sandbox, 5)
    again = challenge(update(finapi, who, headers=PSU, **body, multiStepAuthentication=_cb(msa, **confirm)))
    later(sandbox, 5)
    done = update(finapi, who, headers=PSU, **body, multiStepAuthentication=_cb(again, **confirm))
    assert done.status_code == 200, done.text


def _cb(msa: dict[str, Any], **answer: Any) -> dict[str, Any]:
    return {"hash": msa["hash"]} | answer


def test_the_daily_limit_of_unattended_accesses_applies_to_xs2a_only(
    finapi: Finapi, owner: Callable[..., Owner]
) -> None:
    who = owner(download_seconds=0)
    xs2a = [update(finapi, who, interface="XS2A").status_code for _ in range(5)]
    fints = [update(finapi, who, interface="FINTS_SERVER").status_code for _ in range(5)]
    assert xs2a == [200, 200, 200, 200, 422]
    assert fints == [200] * 5


def test_redirect_url_and_account_references_only_where_the_interface_has_the_property(
    finapi: Finapi, owner: Callable[..., Owner]
) -> None:
    decoupled_bank = owner()
    redirect_url = update(finapi, decoupled_bank, headers=PSU, interface="XS2A", redirectUrl="https://app.example/cb")
    references = update(
        finapi, decoupled_bank, headers=PSU, interface="XS2A", accountReferences=[{"iban": "DE89370400440532013000"}]
    )
    for refused, field in ((redirect_url, "redirectUrl"), (references, "accountReferences")):
        assert refused.status_code == 422 and first_error(refused)["code"] == "ILLEGAL_FIELD_VALUE"
        assert field in first_error(refused)["message"]
    redirect_bank = owner(bank_blz="DEMO0002", consent_expires_at=None)
    allowed = update(finapi, redirect_bank, headers=PSU, interface="XS2A", redirectUrl="https://app.example/cb")
    assert challenge(allowed)["status"] == "REDIRECT_REQUIRED"


def test_injected_faults_answer_only_what_the_spec_declares(
    finapi: Finapi, owner: Callable[..., Owner], sandbox: SandboxServer
) -> None:
    with pytest.raises(ValidationError):
        FaultRule(status=503)  # type: ignore[arg-type]
    who = owner(download_seconds=0)
    sandbox.world.add_fault(method="POST", path="/update", connection_id=who.connection, status=500, times=1)
    answer = update(finapi, who, headers=PSU, interface="XS2A")
    assert answer.status_code == 500 and first_error(answer)["code"] == "UNEXPECTED_ERROR"


@pytest.mark.finapi_invalid_requests
def test_a_wrong_content_type_is_refused(finapi: Finapi, owner: Callable[..., Owner]) -> None:
    who = owner()
    as_text = httpx.post(
        f"{finapi.base}/api/v1/bankConnections/update",
        content=json.dumps({"bankConnectionId": who.connection}),
        headers={"Authorization": f"Bearer {who.token}", "Content-Type": "text/plain"},
    )
    token_as_json = httpx.post(f"{finapi.base}/oauth/token", json={"grant_type": "client_credentials"})
    for refused in (as_text, token_as_json):
        assert refused.status_code == 400 and first_error(refused)["code"] == "UNSUPPORTED_MEDIA_TYPE"


@pytest.mark.finapi_invalid_requests
def test_a_body_that_breaks_the_spec_is_refused_naming_the_field_not_the_value(
    finapi: Finapi, owner: Callable[..., Owner], sandbox: SandboxServer
) -> None:
    who = owner()
    unknown = update(finapi, who, headers=PSU, interface="XS2A", pin="4711")
    wrong_type = finapi.update(who.token, {"bankConnectionId": str(who.connection)}, headers=PSU)
    bad_enum = update(finapi, who, headers=PSU, interface="HBCI")
    no_value = update(finapi, who, headers=PSU, interface="XS2A", loginCredentials=[{"label": "PIN"}])
    for refused, field in ((unknown, "pin"), (wrong_type, "bankConnectionId"), (bad_enum, "interface")):
        assert refused.status_code == 400 and first_error(refused)["code"] == "BAD_REQUEST", refused.text
        assert field in first_error(refused)["message"]
    assert no_value.status_code == 400 and "loginCredentials[0].value" in first_error(no_value)["message"]
    assert "4711" not in unknown.text
    # And the conformance log saw each of them as a request that broke the spec, refused
    findings = sandbox.conformance.take() if sandbox.conformance else []
    assert len(findings) == 4, findings
    assert all(f.kind == "request" and not f.accepted for f in findings)
