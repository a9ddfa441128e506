"""The read endpoints for the token's user: bank connections, accounts and transactions (V1 and V2)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from finapi_sandbox import render
from finapi_sandbox.banks import ACCOUNT_TYPE_IDS, GERMAN_TIME
from finapi_sandbox.ledger import Transaction
from finapi_sandbox.problems import FinapiProblem, bad_request
from finapi_sandbox.state import Account, Connection
from finapi_sandbox.world import World

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


# ------------------------------------------------------------------------------------------------ transactions

MAX_PER_PAGE = 500  # spec: `perPage` "can be at most 500"
_ORDER_FIELDS: dict[str, Callable[[Transaction, date], Any]] = {
    "id": lambda t, today: t.id,
    "accountId": lambda t, today: t.account_id,
    "amount": lambda t, today: t.amount,
    "bankBookingDate": lambda t, today: t.booked_on,
    "valueDate": lambda t, today: t.value_date,
    "finapiBookingDate": lambda t, today: t.finapi_booking_date(today),
    "importDate": lambda t, today: t.imported_at,
    "purpose": lambda t, today: t.purpose or "",
    "counterpartName": lambda t, today: t.counterpart or "",
    "type": lambda t, today: t.kind,
    "isNew": lambda t, today: t.is_new,
    "isAdjustingEntry": lambda t, today: t.is_adjusting_entry,
}


def _flag(query: dict[str, list[str]], name: str) -> bool | None:
    value = query.get(name, [None])[0]
    if value is None:
        return None
    if value not in ("true", "false"):
        raise bad_request(f"Parameter '{name}' must be true or false.")
    return value == "true"


def _number(query: dict[str, list[str]], name: str, default: int, low: int, high: int) -> int:
    value = query.get(name, [str(default)])[0]
    if not value.isdigit() or not low <= int(value) <= high:
        raise bad_request(f"Parameter '{name}' must be an integer from {low} to {high}.")
    return int(value)


def _contains_all(text: str, query: dict[str, list[str]], name: str) -> bool:
    terms = (query.get(name, [""])[0] or "").lower().split()
    return all(term in text.lower() for term in terms)


def transactions(world: World, username: str, query: dict[str, list[str]], version: str) -> dict[str, Any]:
    """`GET /transactions` (getAndSearchAllTransactions): the user's transactions, every filter given must hold,
    in pages of at most 500. There are no split transactions, categories or labels here, so both views are the same,
    `labelIds` finds nothing and `categoryIds` only the uncategorised ("0")."""
    view = query.get("view", [None])[0]
    if view not in ("bankView", "userView"):
        raise bad_request("Parameter 'view' is required: bankView or userView.")
    ids, account_ids = _ids(query, "ids"), _ids(query, "accountIds")
    label_ids, category_ids = _ids(query, "labelIds"), _ids(query, "categoryIds")
    days = {
        name: _day(query, name)
        for name in (
            "minBankBookingDate",
            "maxBankBookingDate",
            "minFinapiBookingDate",
            "maxFinapiBookingDate",
            "minImportDate",
            "maxImportDate",
        )
    }
    low, high = _amount(query, "minAmount"), _amount(query, "maxAmount")
    direction = query.get("direction", ["all"])[0]
    if direction not in ("all", "income", "spending"):
        raise bad_request("Parameter 'direction' must be all, income or spending.")
    is_new, adjusting = _flag(query, "isNew"), _flag(query, "isAdjustingEntry")
    duplicate = _flag(query, "isPotentialDuplicate")
    _flag(query, "includeChildCategories")
    page = _number(query, "page", 1, 1, 2**31 - 1)
    per_page = _number(query, "perPage", 20, 1, MAX_PER_PAGE)
    today = world.now().astimezone(GERMAN_TIME).date()
    mine = {a.id for c in _mine(world, username) for a in c.accounts}
    wanted = mine if account_ids is None else mine & set(account_ids)

    def between(value: date, low_day: date | None, high_day: date | None) -> bool:
        return (low_day is None or value >= low_day) and (high_day is None or value <= high_day)

    def keep(row: Transaction) -> bool:
        counterpart = " ".join(filter(None, (row.counterpart, row.counterpart_iban)))
        return (
            (ids is None or row.id in ids)
            and between(row.booked_on, days["minBankBookingDate"], days["maxBankBookingDate"])
            and between(row.finapi_booking_date(today), days["minFinapiBookingDate"], days["maxFinapiBookingDate"])
            and between(_local_day(row.imported_at) or today, days["minImportDate"], days["maxImportDate"])
            and (low is None or row.amount >= Decimal(str(low)))
            and (high is None or row.amount <= Decimal(str(high)))
            and (direction == "all" or (row.amount >= 0) == (direction == "income"))
            and (is_new is None or row.is_new == is_new)
            and (duplicate is None or not duplicate)
            and (adjusting is None or row.is_adjusting_entry == adjusting)
            and label_ids is None
            and (category_ids is None or 0 in category_ids)
            and _contains_all(" ".join((row.purpose or "", counterpart)), query, "search")
            and _contains_all(counterpart, query, "counterpart")
            and _contains_all(row.purpose or "", query, "purpose")
        )

    found = [row for row in world.ledger.rows(sorted(wanted)) if keep(row)]
    for order in reversed(query.get("order") or ["id,asc"]):  # "property[,asc|desc]": its comma is no list
        name, _, way = order.partition(",")
        if name not in _ORDER_FIELDS or way.lower() not in ("", "asc", "desc"):
            raise bad_request(f"Illegal value for 'order': {order}.")
        field = _ORDER_FIELDS[name]
        found.sort(key=lambda row: field(row, today), reverse=way.lower() == "desc")
    chosen = found[(page - 1) * per_page : page * per_page]
    income = sum((row.amount for row in found if row.amount >= 0), Decimal(0))
    spending = sum((row.amount for row in found if row.amount < 0), Decimal(0))
    return {
        "transactions": [render.transaction(row, today, version) for row in chosen],
        "paging": {
            "page": page,
            "perPage": per_page,
            "pageCount": -(-len(found) // per_page),
            "totalCount": len(found),
        },
        "income": float(income),
        "spending": float(spending),
        "balance": float(income + spending),
    }
