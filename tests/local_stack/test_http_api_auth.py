"""The local HTTP API's authorizers: every route answers 401/403 without valid credentials, and users only see their
own resources (another user's are 404, never 403)."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from tests.conftest import BankUser

USER_ROUTES = [
    ("POST", "/v1/bank-connections/1/updates", {}),
    ("POST", "/v1/updates/0123456789abcdef0123456789abcdef/authentication", {"decoupledCallback": True}),
    ("GET", "/v1/updates/0123456789abcdef0123456789abcdef", None),
    ("GET", "/v1/bank-connections/1", None),
    ("GET", "/v1/bank-connections", None),
    ("PUT", "/v1/bank-connections/1/schedule", {"enabled": True}),
]


@pytest.mark.parametrize(("method", "path", "body"), USER_ROUTES)
def test_user_routes_refuse_missing_and_forged_tokens(stack: Any, method: str, path: str, body: Any) -> None:
    url = stack.api_url + path
    assert httpx.request(method, url, json=body).status_code == 401
    forged = stack.issue_token(sub="x") + "tampered"
    assert httpx.request(method, url, json=body, headers={"Authorization": f"Bearer {forged}"}).status_code == 401


def test_admin_route_refuses_user_tokens_and_bad_signatures(stack: Any) -> None:
    url = f"{stack.api_url}/v1/admin/users/someone/finapi-user"
    body = json.dumps({"finapiUsername": "a", "finapiPassword": "b"}).encode()
    user = {"Authorization": f"Bearer {stack.issue_token(sub='someone')}", "content-type": "application/json"}
    assert httpx.put(url, content=body, headers=user).status_code == 403
    signed = stack.admin_headers("PUT", url, body) | {"content-type": "application/json"}
    tampered = body.replace(b'"b"', b'"c"')
    assert httpx.put(url, content=tampered, headers=signed).status_code == 403
    assert httpx.put(url, content=body, headers=signed).status_code == 204


def test_another_users_update_and_connection_are_not_found(new_user: Any) -> None:
    owner: BankUser = new_user()
    stranger: BankUser = new_user()
    started = owner.api.trigger(owner.connections["DEMO0001"], {"interface": "XS2A"})
    assert started.status_code == 202, started.text
    update_id = started.json()["updateId"]
    assert stranger.api.update(update_id).status_code == 404
    assert stranger.api.connection(owner.connections["DEMO0001"]).status_code == 404
    assert stranger.api.answer(update_id, {"decoupledCallback": True}).status_code == 404
    # And triggering someone else's finAPI connection: finAPI itself says it does not exist for this user
    foreign = stranger.api.trigger(owner.connections["DEMO0001"], {"interface": "XS2A"})
    assert foreign.status_code == 404, foreign.text
    owner.api.wait_for(update_id, {"SUCCEEDED"})


def test_malformed_requests_are_4xx_naming_the_field(new_user: Any) -> None:
    user: BankUser = new_user()
    connection = user.connections["DEMO0001"]
    wrong_type = user.api.trigger(connection, {"storeSecrets": "yes please"})
    assert wrong_type.status_code == 422
    assert wrong_type.json()["error"]["details"]["problems"][0]["field"] == "storeSecrets"
    unknown = user.api.trigger(connection, {"pin": "1234"})
    assert unknown.status_code == 422 and "pin" in unknown.json()["error"]["message"]
    assert "1234" not in unknown.text
    bad_ip = user.api.trigger(connection, {}, headers={"PSU-IP-Address": "not-an-ip"})
    assert bad_ip.status_code == 422 and "PSU-IP-Address" in bad_ip.json()["error"]["message"]
    no_interface = user.api.trigger(connection, {"loginCredentials": [{"label": "PIN", "value": "4711"}]})
    assert no_interface.status_code == 422, no_interface.text
    assert no_interface.json()["error"]["details"]["problems"] == [
        {"field": "interface", "reason": "required when loginCredentials are given"}
    ]
    assert "4711" not in no_interface.text
    bad_path = user.api.update("not-an-id")
    assert bad_path.status_code == 422


BODIES_WITH_A_KEY_TWICE = [
    ("POST", "/v1/bank-connections/1/updates", b'{"interface": "XS2A", "interface": "FINTS_SERVER"}', "interface"),
    (
        "POST",
        "/v1/updates/0123456789abcdef0123456789abcdef/authentication",
        b'{"challengeResponse": "1", "challengeResponse": "2"}',
        "challengeResponse",
    ),
    ("PUT", "/v1/bank-connections/1/schedule", b'{"enabled": false, "enabled": true}', "enabled"),
]


@pytest.mark.parametrize(("method", "path", "body", "key"), BODIES_WITH_A_KEY_TWICE)
def test_a_key_given_twice_is_refused_on_every_route_with_a_body(
    stack: Any, method: str, path: str, body: bytes, key: str
) -> None:
    # Given a signed-in user's request whose body names one key twice
    headers = {"Authorization": f"Bearer {stack.issue_token(sub='twice')}", "content-type": "application/json"}
    # When it reaches the API
    answer = httpx.request(method, stack.api_url + path, content=body, headers=headers)
    # Then it is a 400 naming the key, before anything else looks at it
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"]["code"] == "MALFORMED_REQUEST" and answer.json()["error"]["details"]["field"] == key


def test_a_key_given_twice_is_refused_on_the_admin_route(stack: Any) -> None:
    url = f"{stack.api_url}/v1/admin/users/twice/finapi-user"
    body = b'{"finapiUsername": "a", "finapiPassword": "b", "finapiUsername": "c"}'
    signed = stack.admin_headers("PUT", url, body) | {"content-type": "application/json"}
    answer = httpx.put(url, content=body, headers=signed)
    assert answer.status_code == 400 and answer.json()["error"]["details"]["field"] == "finapiUsername", answer.text
