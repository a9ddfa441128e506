"""`POST /oauth/token` (V1) and `POST /api/v2/oauth/token`: finAPI's three OAuth grants."""

from __future__ import annotations

from typing import Any

from finapi_sandbox.problems import BadCredentials, bad_request
from finapi_sandbox.world import Token, World


def check_client(world: World, form: dict[str, str]) -> None:
    """Bad client credentials are a 401 ``BadCredentialsError``, not an ``ErrorMessage`` (spec, `getToken`)."""
    config = world.config
    if form.get("client_id") != config.client_id or form.get("client_secret") != config.client_secret:
        raise BadCredentials("invalid_client", "Bad client credentials")


def grant(world: World, form: dict[str, str]) -> dict[str, Any]:
    """The ``AccessToken`` for a valid client; bad user credentials and bad refresh tokens are a 400 (spec)."""
    kind = form.get("grant_type")
    if kind == "client_credentials":
        access, _ = world.issue_token("", refresh=False)
        return _answer(access, None)
    if kind == "password":
        user = world.users.get(form.get("username", ""))
        if user is None or user.password != form.get("password"):
            raise bad_request("Bad user credentials.")
        return _answer(*world.issue_token(user.username, refresh=True))
    if kind == "refresh_token":
        renewed = world.refresh_access(form.get("refresh_token", ""))
        if renewed is None:
            raise bad_request("Invalid refresh token.")
        return _answer(*renewed)
    raise bad_request("Unsupported grant_type.")


def _answer(access: Token, refresh: Token | None) -> dict[str, Any]:
    # `expires_in` counts from now: a token handed out again has less time left than a new one.
    body: dict[str, Any] = {
        "access_token": access.value,
        "token_type": "bearer",
        "expires_in": World.seconds_left(access),
        "scope": "all",
    }
    if refresh is not None:
        body["refresh_token"] = refresh.value
    return body
