"""`GET /transactions` on the sandbox, as finAPI's spec has it (every answer is checked against the spec by the
autouse conformance fixture): the filters the service relies on, paging within finAPI's 500, and nobody else's."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from finapi_sandbox import SandboxServer
from finapi_sandbox.ledger import GERMAN_TIME
from tests.sandbox.conftest import PSU, Finapi, Owner, first_error


def search(finapi: Finapi, who: Owner, version: str = "v1", **query: Any) -> dict[str, Any]:
    answer = finapi.get(f"/api/{version}/transactions", who.token, params={"view": "bankView"} | query)
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


def every(finapi: Finapi, who: Owner, **query: Any) -> list[dict[str, Any]]:
    found, page = [], 1
    while True:
        body = search(finapi, who, page=page, perPage=500, **query)
        found += body["transactions"]
        if page >= body["paging"]["pageCount"]:
            return found
        page += 1


def test_an_account_has_its_history_and_the_search_filters_by_account_and_ids(
    finapi: Finapi, owner: Callable[..., Owner], sandbox: SandboxServer
) -> None:
    who = owner(imported_account_count=2)
    first, second = sandbox.world.connection(who.connection)["accountIds"]
    everything = every(finapi, who)
    assert {t["accountId"] for t in everything} == {first, second}
    only_first = every(finapi, who, accountIds=str(first))
    assert only_first and {t["accountId"] for t in only_first} == {first}
    chosen = [t["id"] for t in everything[:3]]
    assert sorted(t["id"] for t in every(finapi, who, ids=",".join(map(str, chosen)))) == sorted(chosen)
    assert [t["id"] for t in everything] == sorted(t["id"] for t in everything)  # default order: id, ascending


def test_pages_hold_at_most_per_page_and_count_the_whole(finapi: Finapi, owner: Callable[..., Owner]) -> None:
    who = owner(imported_account_count=3)
    first = search(finapi, who, perPage=7)
    total = first["paging"]["totalCount"]
    assert len(first["transactions"]) == 7 and first["paging"]["pageCount"] == -(-total // 7)
    pages = [search(finapi, who, perPage=7, page=n)["transactions"] for n in range(1, first["paging"]["pageCount"] + 1)]
    assert sum(len(p) for p in pages) == total
    assert round(first["income"] + first["spending"], 2) == round(first["balance"], 2)


def test_a_download_imports_new_transactions_found_by_their_import_date(
    finapi: Finapi, owner: Callable[..., Owner], sandbox: SandboxServer
) -> None:
    # Given a connection whose last update was two days ago
    who = owner(download_seconds=0)
    before = {t["id"] for t in every(finapi, who)}
    sandbox.world.set_clock_offset(sandbox.world.clock_offset + 2 * 86400)
    try:
        # When it is updated
        answer = finapi.update(who.token, {"bankConnectionId": who.connection, "interface": "XS2A"}, headers=PSU)
        assert answer.status_code == 200, answer.text
        finapi.get(f"/api/v1/bankConnections/{who.connection}", who.token)  # the download ends
        today = sandbox.world.now().astimezone(GERMAN_TIME).date()
        # Then what it imported is found with minImportDate = today, and nothing imported before is
        new = every(finapi, who, minImportDate=today.isoformat())
        assert new and not {t["id"] for t in new} & before
        assert all(t["importDate"].startswith(today.isoformat()) for t in new)
        assert {t["id"] for t in every(finapi, who)} == before | {t["id"] for t in new}
        assert every(finapi, who, maxImportDate=(today - timedelta(days=1)).isoformat()) == [
            t for t in every(finapi, who) if t["id"] in before
        ]
    finally:
        sandbox.world.set_clock_offset(sandbox.world.clock_offset - 2 * 86400)


def test_v2_answers_the_same_search_with_rfc_3339_dates(finapi: Finapi, owner: Callable[..., Owner]) -> None:
    who = owner()
    v1, v2 = search(finapi, who, "v1"), search(finapi, who, "v2")
    assert [t["id"] for t in v1["transactions"]] == [t["id"] for t in v2["transactions"]]
    assert "T" in v2["transactions"][0]["importDate"] and " " in v1["transactions"][0]["importDate"]


def test_nobody_finds_another_users_transactions(
    finapi: Finapi, owner: Callable[..., Owner], sandbox: SandboxServer
) -> None:
    mine, theirs = owner(), owner()
    their_accounts = sandbox.world.connection(theirs.connection)["accountIds"]
    their_ids = [t["id"] for t in every(finapi, theirs)]
    assert every(finapi, mine, accountIds=",".join(map(str, their_accounts))) == []
    assert every(finapi, mine, ids=",".join(map(str, their_ids[:50]))) == []


@pytest.mark.finapi_invalid_requests
def test_what_the_spec_forbids_is_a_400(finapi: Finapi, owner: Callable[..., Owner]) -> None:
    who = owner()
    for query in ({}, {"view": "bankView", "perPage": "501"}, {"view": "bankView", "ids": ",".join(["1"] * 1001)}):
        answer = finapi.get("/api/v1/transactions", who.token, params=query)
        assert answer.status_code == 400, query
    v2 = finapi.get("/api/v2/transactions", who.token, params={"view": "bankView", "minImportDate": "yesterday"})
    assert v2.status_code == 400 and first_error(v2)["code"] == "BAD_REQUEST"


def test_edits_of_transactions_are_not_modelled(finapi: Finapi, owner: Callable[..., Owner]) -> None:
    who = owner()
    assert finapi.get("/api/v1/transactions/12345", who.token).status_code == 500


def test_isnew_is_reported_and_never_changed_by_reading(finapi: Finapi, owner: Callable[..., Owner]) -> None:
    who = owner()
    assert all(t["isNew"] for t in every(finapi, who))
    assert all(t["isNew"] for t in every(finapi, who, isNew="true"))
    assert every(finapi, who, isNew="false") == []


def test_order_names_a_property_and_a_direction(finapi: Finapi, owner: Callable[..., Owner]) -> None:
    who = owner()
    by_amount = [t["amount"] for t in search(finapi, who, order="amount,desc", perPage=50)["transactions"]]
    assert by_amount == sorted(by_amount, reverse=True)
    by_id = [t["id"] for t in search(finapi, who, order="id,desc", perPage=50)["transactions"]]
    assert by_id == sorted(by_id, reverse=True)
