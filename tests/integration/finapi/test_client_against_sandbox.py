"""The finAPI client against the sandbox over real loopback HTTP, every scenario, in both API versions."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from bankupdate.domain import errors
from bankupdate.finapi import (
    AccountStatus,
    AuthenticationRequired,
    BankingInterface,
    FinapiClient,
    FinapiUserCredentials,
    LoginCredential,
    MsaStatus,
    MultiStepAuthenticationCallback,
    PsuMetadata,
    UpdateAccepted,
    UpdateBankConnectionParams,
)
from bankupdate.finapi.budget import FinapiBudget
from finapi_sandbox import SandboxServer

PSU = PsuMetadata(ip_address="203.0.113.7", device_os="iOS 17", user_agent="BankApp/2.1")
DEMO = [
    LoginCredential(label="Onlinebanking-ID", value=SecretStr("demo")),
    LoginCredential(label="PIN", value=SecretStr("demo")),
]


def params(connection_id: int, **fields: Any) -> UpdateBankConnectionParams:
    return UpdateBankConnectionParams(bank_connection_id=connection_id, interface=BankingInterface.XS2A, **fields)


def answer(connection_id: int, challenge_hash: str, **callback: Any) -> UpdateBankConnectionParams:
    return params(
        connection_id, multi_step_authentication=MultiStepAuthenticationCallback(hash=challenge_hash, **callback)
    )


def wait_ready(client: FinapiClient, user: FinapiUserCredentials, connection_id: int, categorized: bool = False) -> Any:
    for _ in range(100):
        connection = client.get_bank_connection(user, connection_id)
        if connection.update_status == "READY" and (not categorized or connection.categorization_status == "READY"):
            return connection
        time.sleep(0.05)
    raise AssertionError("download did not finish")


def updates_sent(sandbox: SandboxServer, connection_id: int) -> int:
    return sum(1 for c in sandbox.world.calls if c.path.endswith("/update") and c.connection_id == connection_id)


def test_plain_update_with_a_valid_consent_needs_no_sca(client: FinapiClient, make_user: Any) -> None:
    user, connection = make_user()
    outcome = client.update_bank_connection(user.credentials, params(connection), psu=PSU, request_id="req-1")
    assert isinstance(outcome, UpdateAccepted)
    assert outcome.connection.update_status == "IN_PROGRESS"
    assert outcome.request_id == "req-1"
    ready = wait_ready(client, user.credentials, connection, categorized=True)
    result = ready.interfaces[0].last_manual_update
    assert result is not None and result.result.value == "OK" and result.timestamp.tzinfo is not None


def test_procedure_choice_then_tan(client: FinapiClient, make_user: Any) -> None:
    user, connection = make_user()
    first = client.update_bank_connection(user.credentials, params(connection, login_credentials=DEMO), psu=PSU)
    assert isinstance(first, AuthenticationRequired)
    assert first.challenge.status is MsaStatus.TWO_STEP_PROCEDURE_REQUIRED
    procedures = {p.procedure_id: p for p in first.challenge.two_step_procedures or []}
    assert "901" in procedures
    second = client.update_bank_connection(
        user.credentials, answer(connection, first.challenge.hash, two_step_procedure_id="904"), psu=PSU
    )
    assert isinstance(second, AuthenticationRequired)
    assert second.challenge.status is MsaStatus.CHALLENGE_RESPONSE_REQUIRED
    assert second.challenge.photo_tan_mime_type == "image/png" and second.challenge.photo_tan_data
    assert second.challenge.hash != first.challenge.hash
    third = client.update_bank_connection(
        user.credentials, answer(connection, second.challenge.hash, challenge_response=SecretStr("123456")), psu=PSU
    )
    assert isinstance(third, UpdateAccepted)


def test_wrong_tan_then_right_tan(client: FinapiClient, make_user: Any) -> None:
    user, connection = make_user()
    step = client.update_bank_connection(user.credentials, params(connection, login_credentials=DEMO), psu=PSU)
    assert isinstance(step, AuthenticationRequired)
    step = client.update_bank_connection(
        user.credentials, answer(connection, step.challenge.hash, two_step_procedure_id="901"), psu=PSU
    )
    assert isinstance(step, AuthenticationRequired)
    wrong = client.update_bank_connection(
        user.credentials, answer(connection, step.challenge.hash, challenge_response=SecretStr("000000")), psu=PSU
    )
    assert isinstance(wrong, AuthenticationRequired)
    assert wrong.challenge.status is MsaStatus.CHALLENGE_RESPONSE_REQUIRED
    # The old hash is outdated now
    with pytest.raises(errors.UpstreamRejectedRequest):
        client.update_bank_connection(
            user.credentials, answer(connection, step.challenge.hash, challenge_response=SecretStr("123456")), psu=PSU
        )
    right = client.update_bank_connection(
        user.credentials, answer(connection, wrong.challenge.hash, challenge_response=SecretStr("123456")), psu=PSU
    )
    assert isinstance(right, UpdateAccepted)


def test_three_wrong_tans_end_in_bank_rejection(client: FinapiClient, make_user: Any) -> None:
    user, connection = make_user()
    step = client.update_bank_connection(user.credentials, params(connection, login_credentials=DEMO), psu=PSU)
    assert isinstance(step, AuthenticationRequired)
    step = client.update_bank_connection(
        user.credentials, answer(connection, step.challenge.hash, two_step_procedure_id="901"), psu=PSU
    )
    with pytest.raises(errors.BankRejected) as rejected:
        for _ in range(3):
            assert isinstance(step, AuthenticationRequired)
            step = client.update_bank_connection(
                user.credentials, answer(connection, step.challenge.hash, challenge_response=SecretStr("1")), psu=PSU
            )
    assert rejected.value.user_action_required and rejected.value.user_message


def test_decoupled_confirmation(client: FinapiClient, make_user: Any) -> None:
    user, connection = make_user()
    step = client.update_bank_connection(user.credentials, params(connection, login_credentials=DEMO), psu=PSU)
    assert isinstance(step, AuthenticationRequired)
    step = client.update_bank_connection(
        user.credentials, answer(connection, step.challenge.hash, two_step_procedure_id="905"), psu=PSU
    )
    assert isinstance(step, AuthenticationRequired) and step.challenge.status is MsaStatus.DECOUPLED_AUTH_REQUIRED
    statuses = []
    while isinstance(step, AuthenticationRequired):
        step = client.update_bank_connection(
            user.credentials, answer(connection, step.challenge.hash, decoupled_callback=True), psu=PSU
        )
        statuses.append(step.challenge.status if isinstance(step, AuthenticationRequired) else "ACCEPTED")
    assert statuses == [MsaStatus.DECOUPLED_AUTH_IN_PROGRESS, MsaStatus.DECOUPLED_AUTH_IN_PROGRESS, "ACCEPTED"]


def test_redirect_bank(client: FinapiClient, make_user: Any) -> None:
    user, connection = make_user(bank_blz="DEMO0002", consent_expires_at=None)
    with pytest.raises(errors.UpstreamRejectedRequest, match="redirectUrl"):
        client.update_bank_connection(user.credentials, params(connection), psu=PSU)
    step = client.update_bank_connection(
        user.credentials, params(connection, redirect_url="https://app.example/cb"), psu=PSU
    )
    assert isinstance(step, AuthenticationRequired) and step.challenge.status is MsaStatus.REDIRECT_REQUIRED
    assert step.challenge.redirect_context_field == "state" and step.challenge.redirect_url
    bank = httpx.get(step.challenge.redirect_url, follow_redirects=False)
    assert bank.status_code == 302 and bank.headers["location"].startswith("https://app.example/cb?")
    query = httpx.URL(bank.headers["location"]).query.decode()
    done = client.update_bank_connection(
        user.credentials, answer(connection, step.challenge.hash, redirect_callback=SecretStr(query)), psu=PSU
    )
    assert isinstance(done, UpdateAccepted)


def test_cancelled_redirect_is_a_bank_rejection(client: FinapiClient, make_user: Any) -> None:
    user, connection = make_user(bank_blz="DEMO0002", consent_expires_at=None)
    step = client.update_bank_connection(
        user.credentials, params(connection, redirect_url="https://app.example/cb"), psu=PSU
    )
    assert isinstance(step, AuthenticationRequired)
    with pytest.raises(errors.BankRejected):
        client.update_bank_connection(
            user.credentials,
            answer(connection, step.challenge.hash, redirect_callback=SecretStr("error=access_denied")),
            psu=PSU,
        )


def test_no_sca_credentials_and_wrong_credentials(client: FinapiClient, make_user: Any) -> None:
    user, connection = make_user(consent_expires_at=None)
    no_sca = [
        LoginCredential(label="Onlinebanking-ID", value=SecretStr("demo_no_msa")),
        LoginCredential(label="PIN", value=SecretStr("demo_no_msa")),
    ]
    assert isinstance(
        client.update_bank_connection(user.credentials, params(connection, login_credentials=no_sca), psu=PSU),
        UpdateAccepted,
    )
    other, second = make_user(consent_expires_at=None)
    wrong = [
        LoginCredential(label="Onlinebanking-ID", value=SecretStr("demo")),
        LoginCredential(label="PIN", value=SecretStr("nope")),
    ]
    with pytest.raises(errors.BankRejected) as rejected:
        client.update_bank_connection(other.credentials, params(second, login_credentials=wrong), psu=PSU)
    assert rejected.value.upstream_code == "BANK_SERVER_REJECTION" and rejected.value.upstream_status == 422
    assert "nope" not in str(rejected.value)
    assert client.get_bank_connection(other.credentials, second).interfaces[0].user_action_required


def test_missing_pin_then_store_secrets(client: FinapiClient, make_user: Any) -> None:
    user, connection = make_user(consent_expires_at=None)
    with pytest.raises(errors.CredentialsRequired):
        client.update_bank_connection(user.credentials, params(connection), psu=PSU)
    no_sca = [
        LoginCredential(label="PIN", value=SecretStr("demo_no_msa")),
        LoginCredential(label="Onlinebanking-ID", value=SecretStr("demo_no_msa")),
    ]
    client.update_bank_connection(
        user.credentials, params(connection, login_credentials=no_sca, store_secrets=True), psu=PSU
    )
    wait_ready(client, user.credentials, connection)
    # A consent is there now; even with it gone, the stored PIN lets the user update without typing
    assert isinstance(client.update_bank_connection(user.credentials, params(connection), psu=PSU), UpdateAccepted)


def test_import_new_accounts_and_account_statuses(client: FinapiClient, make_user: Any) -> None:
    user, connection = make_user(failing_account_indexes=[1])
    before = client.get_bank_connection(user.credentials, connection).account_ids
    client.update_bank_connection(user.credentials, params(connection, import_new_accounts=True), psu=PSU)
    after = wait_ready(client, user.credentials, connection).account_ids
    assert len(before) == 2 and len(after) == 3
    statuses = [client.get_account(user.credentials, a).interfaces[0].status for a in after]
    assert statuses.count(AccountStatus.DOWNLOAD_FAILED) == 1
    both = client.get_bank_connections(user.credentials, [connection])
    assert [c.id for c in both] == [connection]


def test_locked_while_downloading(client: FinapiClient, make_user: Any) -> None:
    user, connection = make_user(download_seconds=5)
    client.update_bank_connection(user.credentials, params(connection), psu=PSU)
    with pytest.raises(errors.UpdateLockedUpstream) as locked:
        client.update_bank_connection(user.credentials, params(connection), psu=PSU)
    assert locked.value.retryable


def test_other_users_connection_is_not_found(client: FinapiClient, make_user: Any) -> None:
    user, _ = make_user()
    _, foreign = make_user()
    with pytest.raises(errors.UpstreamNotFound):
        client.get_bank_connection(user.credentials, foreign)
    with pytest.raises(errors.UpstreamNotFound):
        client.update_bank_connection(user.credentials, params(foreign), psu=PSU)


def test_expired_token_is_renewed_once(client: FinapiClient, make_user: Any, sandbox: SandboxServer) -> None:
    user, connection = make_user()
    client.get_bank_connection(user.credentials, connection)
    sandbox.world.expire_tokens()
    assert client.get_bank_connection(user.credentials, connection).id == connection


def test_bad_client_credentials(sandbox: SandboxServer) -> None:
    with FinapiClient(base_url=sandbox.base_url, client_id="x", client_secret="y") as finapi:
        with pytest.raises(errors.UpstreamAuthFailed):
            finapi.client_token()
    with FinapiClient(
        base_url=sandbox.base_url, client_id=sandbox.client_id, client_secret=sandbox.client_secret
    ) as finapi:
        assert finapi.client_token()
        with pytest.raises(errors.UpstreamAuthFailed, match="user"):
            finapi.get_bank_connection(FinapiUserCredentials(username="demo-user", password=SecretStr("wrong")), 1)


def test_transient_faults_retry_reads_but_never_the_update(
    client: FinapiClient, make_user: Any, sandbox: SandboxServer
) -> None:
    user, connection = make_user()
    sandbox.world.add_fault(method="GET", path=f"/bankConnections/{connection}", status=500, times=2)
    assert client.get_bank_connection(user.credentials, connection).id == connection  # third attempt succeeds
    sandbox.world.add_fault(
        method="POST", path="/bankConnections/update", connection_id=connection, status=500, times=1
    )
    with pytest.raises(errors.UpstreamUnavailable):
        client.update_bank_connection(user.credentials, params(connection), psu=PSU)
    assert updates_sent(sandbox, connection) == 1
    sandbox.world.add_fault(method="POST", path="/bankConnections/update", connection_id=connection, drop=True, times=1)
    with pytest.raises(errors.UpstreamUnavailable):
        client.update_bank_connection(user.credentials, params(connection), psu=PSU)
    assert updates_sent(sandbox, connection) == 2
    sandbox.world.add_fault(method="GET", path=f"/bankConnections/{connection}", delay_seconds=1.5, times=3)
    with pytest.raises(errors.UpstreamUnavailable, match="in time"):
        client.get_bank_connection(user.credentials, connection)


def test_one_run_waits_for_finapi_at_most_its_budget(make_user: Any, sandbox: SandboxServer) -> None:
    # Given a run of a use case with 1.5 s for finAPI in all, and finAPI taking 3 s to answer a read once
    user, connection = make_user()
    budget = FinapiBudget(1.5)
    with FinapiClient(
        base_url=sandbox.base_url,
        client_id=sandbox.client_id,
        client_secret=sandbox.client_secret,
        timeout_seconds=10,
        sleep=lambda _: None,
        budget=budget,
    ) as finapi:
        sandbox.world.add_fault(method="GET", path=f"/bankConnections/{connection}", delay_seconds=3, times=1)
        # When the run reads the connection
        with pytest.raises(errors.UpstreamUnavailable, match="in time"):
            finapi.get_bank_connection(user.credentials, connection)
        # Then the read was cut off at what was left of the budget (not at its 10 s read timeout), and not retried:
        # a retry would have found finAPI answering at once. Nothing more goes to finAPI in this run
        with pytest.raises(errors.UpstreamUnavailable, match=r"budget of 1\.5 s spent before GET"):
            finapi.get_bank_connection(user.credentials, connection)
        # And the next run has the whole budget again
        budget.restart()
        assert finapi.get_bank_connection(user.credentials, connection).id == connection


def test_unattended_consent_expiry_and_daily_limit(
    client: FinapiClient, make_user: Any, sandbox: SandboxServer
) -> None:
    user, connection = make_user(download_seconds=0)
    for _ in range(4):
        assert isinstance(client.update_bank_connection(user.credentials, params(connection)), UpdateAccepted)
        wait_ready(client, user.credentials, connection)
    # The bank refuses the 5th access without the user present, but not a user-present one
    with pytest.raises(errors.BankRejected):
        client.update_bank_connection(user.credentials, params(connection))
    assert isinstance(client.update_bank_connection(user.credentials, params(connection), psu=PSU), UpdateAccepted)
    other, second = make_user()
    sandbox.world.set_clock_offset(91 * 86400)
    try:
        with pytest.raises(errors.ConsentInvalid):
            client.update_bank_connection(other.credentials, params(second))
    finally:
        sandbox.world.set_clock_offset(0)


def test_an_ipv6_user_is_passed_on_and_counts_as_present(
    client: FinapiClient, make_user: Any, sandbox: SandboxServer
) -> None:
    # Given a connection whose four unattended accesses of the day are used up
    user, connection = make_user(download_seconds=0)
    for _ in range(4):
        assert isinstance(client.update_bank_connection(user.credentials, params(connection)), UpdateAccepted)
    # When the user triggers from an IPv6 network
    ipv6 = PsuMetadata(ip_address="2001:db8::1", device_os="iOS", user_agent="app")
    outcome = client.update_bank_connection(user.credentials, params(connection), psu=ipv6)
    # Then the address reaches finAPI (which replaces it with its own IPv4 one) and the bank sees the user present
    assert isinstance(outcome, UpdateAccepted)
    assert sandbox.world.calls[-1].psu_present


def test_an_ipv6_address_finapi_refuses_is_left_out_and_the_outcome_says_so(
    client: FinapiClient, make_user: Any, sandbox: SandboxServer
) -> None:
    # Given a finAPI that refuses a PSU-IP-Address that is no IPv4 address (400 naming the header)
    user, connection = make_user(download_seconds=0)
    ipv6 = PsuMetadata(ip_address="2001:db8::1", device_os="iOS", user_agent="app")
    sandbox.world.set_psu_ipv6("refused")
    try:
        # When the user triggers from an IPv6 network
        outcome = client.update_bank_connection(user.credentials, params(connection), psu=ipv6)
        ipv4 = client.update_bank_connection(user.credentials, params(connection), psu=PSU)
    finally:
        sandbox.world.set_psu_ipv6("replaced")
    # Then the update went again without the address, the bank took it as unattended, and the outcome says so
    assert isinstance(outcome, UpdateAccepted) and outcome.psu_ip_address_refused
    sent = [c for c in sandbox.world.calls if c.path.endswith("/update") and c.connection_id == connection]
    assert [(c.status, c.psu_present) for c in sent[:2]] == [(400, True), (200, False)]
    # While an IPv4 address goes out once, as always
    assert isinstance(ipv4, UpdateAccepted) and not ipv4.psu_ip_address_refused
    assert updates_sent(sandbox, connection) == 3


def test_credentials_without_an_interface_never_reach_finapi(
    client: FinapiClient, make_user: Any, sandbox: SandboxServer
) -> None:
    user, connection = make_user(consent_expires_at=None)
    without_interface = UpdateBankConnectionParams(bank_connection_id=connection, login_credentials=DEMO)
    with pytest.raises(errors.InvalidRequest) as refused:
        client.update_bank_connection(user.credentials, without_interface, psu=PSU)
    assert refused.value.details == {"field": "interface"}
    assert updates_sent(sandbox, connection) == 0


def test_the_old_web_form_is_a_web_form_required_that_no_retry_fixes(make_user: Any, sandbox: SandboxServer) -> None:
    # Given a V1 connection of a mandator on finAPI's old Web Form, and the bank needs the user
    user, connection = make_user(consent_expires_at=None, legacy_web_form=True)
    with FinapiClient(
        base_url=sandbox.base_url, client_id=sandbox.client_id, client_secret=sandbox.client_secret
    ) as finapi:
        # When the update is triggered
        with pytest.raises(errors.WebFormRequired) as web_form:
            finapi.update_bank_connection(user.credentials, params(connection, login_credentials=DEMO), psu=PSU)
    # Then the error is not retryable, the operator learns why, and finAPI was called once
    assert not web_form.value.retryable and web_form.value.upstream_status == 451
    assert "Web Form 2.0" in web_form.value.message
    assert updates_sent(sandbox, connection) == 1
