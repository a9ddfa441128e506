"""The Web Form API refuses what finAPI refuses, with the spec's error bodies (checked by the API client)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest

from finapi_sandbox import SandboxServer
from finapi_sandbox.webform import WebFormFault, WebFormServer
from tests.support.webform import FinapiUser, WebFormApi, user_token

HTTPS = "https://app.example.com/finapi/callback?token=abc"


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ({"unknownField": 1}, "unknownField"),
        ({"accountTypes": ["Checking"]}, "accountTypes"),  # Access's spelling, not Web Form's
        ({"accountTypes": ["CHECKING", "CHECKING"]}, "accountTypes"),
        ({"manageSavedSettings": ["PIN"]}, "manageSavedSettings"),
        ({"importNewAccounts": "yes"}, "importNewAccounts"),
        ({"profileId": "short"}, "profileId"),
        ({"userMetadata": {"ipAddress": "203.0.113.1", "deviceOs": "iOS"}}, "userMetadata.userAgent"),
        ({"userMetadata": {"ipAddress": "1" * 65, "deviceOs": "iOS", "userAgent": "x"}}, "userMetadata.ipAddress"),
        ({"callbacks": {"finalised": "http://app.example.com/callback"}}, "callbacks.finalised"),
        ({"callbacks": {"webFormRequired": "ftp://app.example.com/x"}}, "callbacks.webFormRequired"),
        ({"callbacks": {"finalised": HTTPS, "other": HTTPS}}, "callbacks.other"),
        ({"callbacks": {"finalised": "https://app.example.com/" + "a" * 2048}}, "callbacks.finalised"),
        ({"redirectUrl": "https://app.example.com/back"}, "redirectUrl"),  # an unlicensed mandator may not give it
    ],
)
def test_invalid_task_details_are_refused_with_the_field(
    make_webform: Callable[..., WebFormServer], make_user: Callable[..., FinapiUser], extra: dict[str, Any], field: str
) -> None:
    # Given the strict default: only https URLs
    webform = make_webform(allow_http_loopback_urls=False)
    user = make_user(webform, main={})

    # When the request has this mistake
    answer = user.api.create({"bankConnectionId": user.connections["main"]} | extra)

    # Then 400 ValidationError names the field
    assert answer.status_code == 400
    assert field in [e["field"] for e in answer.json()["errors"]], answer.json()


@pytest.mark.parametrize(
    "body", [{}, {"bankConnectionId": "1"}, {"bankConnectionId": True}, {"bankConnectionId": None}, []]
)
def test_a_missing_or_mistyped_connection_id_is_refused(
    webform: WebFormServer, make_user: Callable[..., FinapiUser], body: Any
) -> None:
    user = make_user(main={})
    assert user.api.create(body).status_code == 400


def test_a_body_that_is_not_json_is_refused(webform: WebFormServer, make_user: Callable[..., FinapiUser]) -> None:
    user = make_user(main={})
    answer = httpx.post(
        f"{webform.base_url}/api/tasks/backgroundUpdate",
        content=b"bankConnectionId=1",
        headers={"Authorization": f"Bearer {user.token}", "Content-Type": "application/x-www-form-urlencoded"},
    )
    assert answer.status_code == 400 and answer.json()["errors"][0]["field"] == "Content-Type"


def test_a_request_id_over_255_characters_is_refused(
    webform: WebFormServer, make_user: Callable[..., FinapiUser]
) -> None:
    user = make_user(main={})
    answer = user.api.create({"bankConnectionId": user.connections["main"]}, headers={"X-Request-Id": "r" * 256})
    assert answer.status_code == 400 and answer.json()["errors"][0]["field"] == "X-Request-Id"


def test_the_request_id_is_echoed(webform: WebFormServer, make_user: Callable[..., FinapiUser]) -> None:
    user = make_user(main={})
    answer = user.api.create({"bankConnectionId": user.connections["main"]}, headers={"X-Request-Id": "req-42"})
    assert answer.status_code == 201 and answer.headers["X-Request-Id"] == "req-42"


def test_loopback_http_callbacks_are_accepted_only_when_the_sandbox_allows_them(
    make_webform: Callable[..., WebFormServer], make_user: Callable[..., FinapiUser]
) -> None:
    # Given one strict and one relaxed Web Form server
    strict, relaxed = make_webform(allow_http_loopback_urls=False), make_webform(allow_http_loopback_urls=True)
    user = make_user(strict, main={}, other={})
    body = {"callbacks": {"finalised": "http://127.0.0.1:9999/callback?token=t"}}

    # When the same loopback http callback is given to both
    refused = user.api.create({"bankConnectionId": user.connections["main"]} | body)
    accepted = WebFormApi(relaxed.base_url, user.token).create({"bankConnectionId": user.connections["other"]} | body)

    # Then only the relaxed one takes it; a non-loopback http URL stays refused there too
    assert refused.status_code == 400 and accepted.status_code == 201
    remote = {"callbacks": {"finalised": "http://app.example.com/callback"}}
    assert WebFormApi(relaxed.base_url, user.token).create({"bankConnectionId": 1} | remote).status_code == 400


def test_licensed_mandators_must_give_a_redirect_url(
    make_webform: Callable[..., WebFormServer], make_user: Callable[..., FinapiUser]
) -> None:
    webform = make_webform(license="FULLY_LICENSED")
    user = make_user(webform, main={})
    missing = user.api.create({"bankConnectionId": user.connections["main"]})
    given = user.api.create(
        {"bankConnectionId": user.connections["main"], "redirectUrl": "https://app.example.com/bank"}
    )
    assert missing.status_code == 400 and missing.json()["errors"][0]["field"] == "redirectUrl"
    assert given.status_code == 201


def test_authentication_and_ownership(
    access: SandboxServer, webform: WebFormServer, make_user: Callable[..., FinapiUser]
) -> None:
    # Given two users
    owner, stranger = make_user(main={}), make_user(main={})
    task = owner.api.create({"bankConnectionId": owner.connections["main"]}).json()
    client_token = httpx.post(
        f"{access.base_url}/oauth/token",
        data={"grant_type": "client_credentials", "client_id": access.client_id, "client_secret": access.client_secret},
    ).json()["access_token"]

    # Then: no or a bad token is 401, the client's token 403, another user's connection or task 404
    assert WebFormApi(webform.base_url, "nope").create({"bankConnectionId": 1}).status_code == 401
    assert WebFormApi(webform.base_url, "nope").task(task["id"]).status_code == 401
    assert WebFormApi(webform.base_url, client_token).create({"bankConnectionId": 1}).status_code == 403
    assert WebFormApi(webform.base_url, client_token).web_form(task["id"]).status_code == 403
    assert stranger.api.create({"bankConnectionId": owner.connections["main"]}).status_code == 404
    assert stranger.api.task(task["id"]).status_code == 404
    assert stranger.api.web_form(task["id"]).status_code == 404
    assert owner.api.create({"bankConnectionId": 999_999}).status_code == 404
    profile = {"bankConnectionId": owner.connections["main"], "profileId": "a2c9fc3b-1777-403c-8b2f-1ce4d90157a2"}
    assert owner.api.create(profile).status_code == 404


def test_mandator_and_bank_problems_are_422(
    make_webform: Callable[..., WebFormServer], make_user: Callable[..., FinapiUser]
) -> None:
    misconfigured = make_webform(mandator_misconfigured=True)
    unsupported = make_webform(unsupported_banks=["DEMO0002"])
    user = make_user(misconfigured, main={}, redirect={"bank_blz": "DEMO0002"})
    first = user.api.create({"bankConnectionId": user.connections["main"]})
    second = WebFormApi(unsupported.base_url, user.token).create({"bankConnectionId": user.connections["redirect"]})
    assert (first.status_code, first.json()["code"]) == (422, "MANDATOR_MISCONFIGURATION")
    assert (second.status_code, second.json()["code"]) == (422, "BANK_NOT_SUPPORTED")


def test_an_injected_fault_answers_the_spec_500(webform: WebFormServer, make_user: Callable[..., FinapiUser]) -> None:
    user = make_user(main={})
    webform.faults.add(WebFormFault(path="/api/tasks/backgroundUpdate", status=500, times=1))
    failed = user.api.create({"bankConnectionId": user.connections["main"]})
    retried = user.api.create({"bankConnectionId": user.connections["main"]})
    assert (failed.status_code, failed.json()["code"]) == (500, "INTERNAL_SERVER_ERROR")
    assert retried.status_code == 201


def test_a_token_of_the_access_sandbox_is_the_bearer(access: SandboxServer, webform: WebFormServer) -> None:
    # The Access user token works as the Web Form bearer (finAPI: "Must pass the user's access token").
    token = user_token(access.base_url, access.client_id, access.client_secret, "demo-user", "demo-password")
    assert WebFormApi(webform.base_url, token).create({"bankConnectionId": 1}).status_code == 201
