"""Which of finAPI's endpoints answers a request (V1 and V2 at once), and the refusals that come before any of them."""

from __future__ import annotations

import ipaddress
import json
import re
from dataclasses import dataclass
from typing import Any

from finapi_sandbox import reads, render, tokens
from finapi_sandbox.loopback import bearer_token, first_values
from finapi_sandbox.openapi import Problem, access_spec
from finapi_sandbox.problems import BadCredentials, FinapiProblem, bad_request, not_modelled, unauthorized_access
from finapi_sandbox.updates import process_update
from finapi_sandbox.world import World

_API = re.compile(r"^/api/(v1|v2)/(bankConnections|accounts|transactions)(?:/([^/]+))?$")


@dataclass(frozen=True)
class FinapiCall:
    """A request to finAPI's endpoints, read: header names in lower case, the API version of its path, and the ways it
    breaks finAPI's spec (V1 only: V2 has no spec here)."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes
    version: str
    problems: list[Problem]


def route(world: World, call: FinapiCall) -> tuple[int, Any]:
    """The status and body of a successful answer; a refusal is raised (``FinapiProblem``, ``BadCredentials``)."""
    method, path, headers, version = call.method, call.path, call.headers, call.version
    if path in ("/oauth/token", "/api/v2/oauth/token") and method == "POST":
        _require_media(headers, "application/x-www-form-urlencoded")
        form = first_values(call.body.decode("utf-8", "replace"))
        tokens.check_client(world.config, form)
        _refuse(call.problems)
        with world.lock:
            return 200, tokens.grant(world.tokens, world.users, form)
    match = _API.match(path)
    if match is None:
        if version == "v1" and access_spec().has_path(path):
            raise not_modelled(method, path)
        raise FinapiProblem(404, "UNKNOWN_ENTITY", f"No endpoint {method} {path}.")
    _, resource, item = match.groups()
    if resource == "transactions" and (item is not None or method != "GET"):
        if version == "v1" and access_spec().find(method, path) is not None:
            raise not_modelled(method, path)  # only the search is modelled: no edits, splits or deletions
        raise FinapiProblem(404, "UNKNOWN_ENTITY", f"No endpoint {method} {path}.")
    username = _user(world, headers)
    if resource == "bankConnections" and item == "update" and method == "POST":
        _require_media(headers, "application/json")
        _refuse(call.problems)
        _check_psu_address(world.psu_ipv6, headers)
        try:
            body = json.loads(call.body or b"null")
        except ValueError:
            raise bad_request("Request body is not valid JSON.") from None
        connection = process_update(world, username, body, headers, version)
        with world.lock:
            return 200, render.bank_connection(connection, version)
    if method != "GET":
        if version == "v1" and access_spec().find(method, path) is not None:
            raise not_modelled(method, path)
        raise FinapiProblem(405, "METHOD_NOT_ALLOWED", f"{method} is not allowed here.")
    _refuse(call.problems)
    query = call.query
    with world.lock:
        if resource == "transactions":
            return 200, reads.transactions(world, username, query, version)
        if resource == "bankConnections":
            if item is None:
                return 200, reads.bank_connections(world, username, query, version)
            return 200, reads.bank_connection(world, username, item, version)
        if item is None:
            return 200, reads.accounts(world, username, query, version)
        return 200, reads.account(world, username, item, version)


def connection_id_of(path: str, body: bytes) -> int | None:
    """The bank connection a request is about, if any (for faults on one connection and the call log)."""
    match = _API.match(path)
    if match and match.group(2) == "bankConnections" and match.group(3) and match.group(3).isdigit():
        return int(match.group(3))
    if path.endswith("/bankConnections/update"):
        try:
            value = json.loads(body or b"null").get("bankConnectionId")
        except (ValueError, AttributeError):
            return None
        return value if isinstance(value, int) else None
    return None


def _user(world: World, headers: dict[str, str]) -> str:
    token = bearer_token(headers.get("authorization", ""))
    principal = world.tokens.principal_of(token)
    if principal is None:
        hint = token[:6] + "..." if token else "<none>"
        raise BadCredentials("invalid_token", f"Invalid access token: {hint}")
    if not principal:
        raise unauthorized_access()  # the client's own token on a user endpoint
    return principal


def _require_media(headers: dict[str, str], expected: str) -> None:
    given = headers.get("content-type", "").split(";")[0].strip().lower()
    if given != expected:
        # finAPI has the code; the status is a guess (the spec declares no 415), see docs/finapi-fidelity.md.
        raise FinapiProblem(400, "UNSUPPORTED_MEDIA_TYPE", f"Content-Type must be {expected}.")


def _check_psu_address(behaviour: str, headers: dict[str, str]) -> None:
    """A finAPI that applies its V1 spec's ``format: ipv4`` to ``PSU-IP-Address`` (``SandboxConfig.psu_ipv6``)."""
    value = headers.get("psu-ip-address", "").strip()
    if behaviour != "refused" or not value:
        return
    try:
        ipaddress.IPv4Address(value)
    except ValueError:
        raise bad_request("Invalid request: header PSU-IP-Address: must be an IPv4 address") from None


def _refuse(problems: list[Problem]) -> None:
    """A V1 request that breaks finAPI's spec gets finAPI's 400 (an operation the spec lacks is routed instead)."""
    breaking = [p for p in problems if p.location != "operation"]
    if breaking:
        raise bad_request("Invalid request: " + "; ".join(str(p) for p in breaking[:5]))
