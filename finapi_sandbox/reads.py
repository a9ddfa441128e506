"""The read endpoints for the token's user: bank connections and accounts, one or a filtered list (V1 and V2)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from finapi_sandbox import render
from finapi_sandbox.banks import ACCOUNT_TYPE_IDS, GERMAN_TIME
from finapi_sandbox.problems import FinapiProblem, bad_request
from finapi_sandbox.world import Account, Connection, World

MAX_IDS = 1000


def path_id(text: str) -> int:
    """finAPI's ids are int64: anything else in the path is a 400, not a 404."""
    if not text.isdigit() or int(text) >= 2**63:
        raise bad_request("Path parameter 'id' must be an integer (int64).")
    return int(text)


def _list(query: dict[str, list[str]], name: str) -> list[str]:
    return [part for value in query.get(name, []) for part in value.split(",") if part]


def _ids(query: dict[str, list[str]], name: str) -> list[int] | None:
    given = _list(query, name)
    if not given:
        return None
    if not all(part.isdigit() for part in given):
        raise bad_request(f"Parameter '{name}' must be a comma-separated list of integers.")
    if name == "ids" and len(given) > MAX_IDS:
        raise FinapiProblem(400, "TOO_MANY_IDS", f"At most {MAX_IDS} ids are allowed.")
    return [int(part) for part in given]


def _owned(world: World, username: str, connection_id: int) -> Connection | None:
    connection = world.connections.get(connection_id)
    if connection is None or connection.owner != username:
        return None
    world.settle(connection)
    return connection


def _mine(world: World, username: str) -> list[Connection]:
    mine = [c for c in world.connections.values() if c.owner == username]
    for connection in mine:
        world.settle(connection)
    return mine


def bank_connections(world: World, username: str, query: dict[str, list[str]], version: str) -> dict[str, Any]:
    ids = _ids(query, "ids")
    found = _mine(world, username) if ids is None else [_owned(world, username, i) for i in ids]
    return {"connections": [render.bank_connection(c, version) for c in found if c is not None]}


def bank_connection(world: World, username: str, item: str, version: str) -> dict[str, Any]:
    connection = _owned(world, username, path_id(item))
    if connection is None:
        raise FinapiProblem(404, "UNKNOWN_ENTITY", f"Bank connection {item} not found.")
    return render.bank_connection(connection, version)


def account(world: World, username: str, item: str, version: str) -> dict[str, Any]:
    wanted = path_id(item)
    for connection in _mine(world, username):
        for candidate in connection.accounts:
            if candidate.id == wanted:
                return render.account(candidate, connection, version)
    raise FinapiProblem(404, "UNKNOWN_ENTITY", f"Account {item} not found.")


def accounts(world: World, username: str, query: dict[str, list[str]], version: str) -> dict[str, Any]:
    """`GET /accounts` with the spec's filters; every filter given must hold."""
    keep = _account_filter(query)
    return {
        "accounts": [
            render.account(candidate, connection, version)
            for connection in _mine(world, username)
            for candidate in connection.accounts
            if keep(candidate, connection)
        ]
    }


def _day(query: dict[str, list[str]], name: str) -> date | None:
    value = query.get(name, [None])[0]
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise bad_request(f"Parameter '{name}' must be a date YYYY-MM-DD.") from None


def _amount(query: dict[str, list[str]], name: str) -> float | None:
    value = query.get(name, [None])[0]
    if value is None:
        return None
    try:
        return float(value)
    except ValueError:
        raise bad_request(f"Parameter '{name}' must be a number.") from None


def _local_day(moment: datetime | None) -> date | None:
    return moment.astimezone(GERMAN_TIME).date() if moment else None


def _account_filter(query: dict[str, list[str]]) -> Any:
    ids, connection_ids, type_ids = _ids(query, "ids"), _ids(query, "bankConnectionIds"), _ids(query, "accountTypeIds")
    types = _list(query, "accountTypes") or None
    terms = (query.get("search", [""])[0] or "").lower().split()
    after, before = _day(query, "minLastSuccessfulUpdate"), _day(query, "maxLastSuccessfulUpdate")
    low, high = _amount(query, "minBalance"), _amount(query, "maxBalance")

    def keep(candidate: Account, connection: Connection) -> bool:
        searched = " ".join((candidate.name, candidate.iban, candidate.iban[-10:])).lower()
        updated = _local_day(candidate.last_successful_update)
        return (
            (ids is None or candidate.id in ids)
            and (connection_ids is None or connection.id in connection_ids)
            and (type_ids is None or ACCOUNT_TYPE_IDS[candidate.account_type] in type_ids)
            and (types is None or candidate.account_type in types)
            and all(term in searched for term in terms)
            and (after is None or (updated is not None and updated >= after))
            and (before is None or (updated is not None and updated <= before))
            and (low is None or candidate.balance >= low)
            and (high is None or candidate.balance <= high)
        )

    return keep
