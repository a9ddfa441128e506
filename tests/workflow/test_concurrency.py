"""Many triggers for one connection at once: exactly one finAPI update starts."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import Any

from tests.conftest import BankUser

TERMINAL = {"SUCCEEDED", "FAILED", "EXPIRED"}


def finapi_update_calls(sandbox: Any, connection_id: int) -> list[datetime]:
    """When finAPI was asked to update the connection, in order, on the real clock (the sandbox's may run ahead)."""
    ahead = timedelta(seconds=sandbox.world.clock_offset)
    return sorted(
        call.at - ahead
        for call in sandbox.world.calls
        if call.method == "POST"
        and call.path.endswith("/bankConnections/update")
        and call.connection_id == connection_id
    )


def test_hundred_concurrent_triggers_with_different_keys_start_one_update(new_user: Any, sandbox: Any) -> None:
    # Given a bank whose download takes 20 s
    user: BankUser = new_user(download_seconds=20)
    connection = user.connections["DEMO0001"]
    # When 100 triggers arrive at once, each with its own idempotency key (100 different user actions)
    with ThreadPoolExecutor(max_workers=50) as pool:
        answers = list(
            pool.map(
                lambda n: user.api.trigger(connection, {"interface": "XS2A"}, headers={"Idempotency-Key": f"k-{n}"}),
                range(100),
            )
        )
    # Then one started an update and the others were told which one runs: on a machine that answers the hundred
    # within the download, exactly one; on one so loaded that they outlast it, the next reached finAPI only after the
    # one before had ended (a trigger's createdAt is when it began, which may be before that: it then waited its turn)
    started = [a.json()["updateId"] for a in answers if a.status_code == 202]
    assert started
    assert all(
        a.status_code == 409 and a.json()["error"]["details"]["updateId"] in started
        for a in answers
        if a.status_code != 202
    )
    calls = finapi_update_calls(sandbox, connection)
    assert len(calls) == len(started)
    views = [user.api.update(update_id).json() for update_id in started]
    assert sum(view["status"] not in TERMINAL for view in views) <= 1, views
    ends = sorted(datetime.fromisoformat(view["updatedAt"]) for view in views if view["status"] in TERMINAL)
    for end, next_call in zip(ends, calls[1:], strict=False):
        assert end <= next_call, (end, next_call)


def test_hundred_concurrent_triggers_with_one_idempotency_key_share_the_update(new_user: Any, sandbox: Any) -> None:
    user: BankUser = new_user()
    connection = user.connections["DEMO0001"]
    headers = {"Idempotency-Key": "sync-now-button-1"}
    with ThreadPoolExecutor(max_workers=50) as pool:
        answers = list(
            pool.map(lambda _: user.api.trigger(connection, {"interface": "XS2A"}, headers=headers), range(100))
        )
    # Then every answer is either that one update or "being processed, retry"; finAPI saw one call
    ids = {a.json()["updateId"] for a in answers if a.status_code == 202}
    assert len(ids) == 1
    assert {a.status_code for a in answers} <= {202, 409}
    assert len(finapi_update_calls(sandbox, connection)) == 1
    # And a retry with the same key afterwards answers with the same update, without calling finAPI again
    again = user.api.trigger(connection, {"interface": "XS2A"}, headers=headers)
    assert again.status_code == 202 and again.json()["updateId"] in ids
    assert len(finapi_update_calls(sandbox, connection)) == 1


def test_duplicate_tan_submissions_are_harmless(new_user: Any, sandbox: Any) -> None:
    demo = [{"label": "Onlinebanking-ID", "value": "demo"}, {"label": "PIN", "value": "demo"}]
    user: BankUser = new_user()
    connection = user.connections["DEMO0001"]
    update = user.api.trigger(connection, {"interface": "XS2A", "loginCredentials": demo}).json()
    procedure = update["authentication"]["twoStepProcedures"][0]["procedureId"]
    user.api.answer(update["updateId"], {"twoStepProcedureId": procedure})
    user.api.wait_for(update["updateId"], {"AUTHENTICATION_REQUIRED"})
    before = len(finapi_update_calls(sandbox, connection))
    # When the app sends the TAN five times at once (double taps, retries)
    with ThreadPoolExecutor(max_workers=5) as pool:
        answers = list(
            pool.map(lambda _: user.api.answer(update["updateId"], {"challengeResponse": "123456"}), range(5))
        )
    # Then finAPI saw the TAN once, the others were turned away, and the update succeeds
    assert [a.status_code for a in answers].count(200) == 1, [a.text for a in answers]
    assert all(a.json()["error"]["code"] == "CHALLENGE_MISMATCH" for a in answers if a.status_code != 200)
    assert len(finapi_update_calls(sandbox, connection)) == before + 1
    user.api.wait_for(update["updateId"], {"SUCCEEDED"})
