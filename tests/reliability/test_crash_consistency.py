"""Handlers that die half-way, and answers that get lost: nothing is lost, no lock leaks."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from bankupdate import composition
from bankupdate.domain.model import UpdateMode, UpdateRecord, UpdateStatus
from bankupdate.domain.upstream import ConnectionFacts
from bankupdate.finapi import BankingInterface, UpdateBankConnectionParams
from tests.conftest import BankUser


def finapi_updates(sandbox: Any, connection_id: int) -> int:
    return sum(1 for c in sandbox.world.calls if c.path.endswith("/update") and c.connection_id == connection_id)


def test_lost_answer_after_finapi_accepted_is_found_by_the_poll_loop(new_user: Any, sandbox: Any) -> None:
    # Given finAPI accepts the update but its answer never arrives (connection dropped after the state change)
    user: BankUser = new_user()
    connection = user.connections["DEMO0001"]
    sandbox.world.add_fault(method="POST", path="/update", connection_id=connection, drop=True, when="after", times=1)
    # When the user syncs
    started = user.api.trigger(connection, {"interface": "XS2A"})
    # Then we do not claim failure: the poll loop sees finAPI's fresh result, and finAPI was called once
    assert started.status_code == 202, started.text
    assert user.api.wait_for(started.json()["updateId"], {"SUCCEEDED"})["status"] == "SUCCEEDED"
    assert finapi_updates(sandbox, connection) == 1


def test_lost_answer_to_the_tan_is_found_by_the_poll_loop(new_user: Any, sandbox: Any) -> None:
    demo = [{"label": "Onlinebanking-ID", "value": "demo"}, {"label": "PIN", "value": "demo"}]
    user: BankUser = new_user()
    connection = user.connections["DEMO0001"]
    update = user.api.trigger(connection, {"interface": "XS2A", "loginCredentials": demo}).json()
    user.api.answer(update["updateId"], {"twoStepProcedureId": "901"})
    # Given finAPI takes the TAN and starts downloading, but its answer is lost
    sandbox.world.add_fault(method="POST", path="/update", connection_id=connection, drop=True, when="after", times=1)
    answered = user.api.answer(update["updateId"], {"challengeResponse": "123456"})
    # Then the update goes on to the poll loop and succeeds, instead of asking for a TAN finAPI already consumed
    assert answered.status_code == 200 and answered.json()["status"] == "IN_PROGRESS", answered.text
    assert user.api.wait_for(update["updateId"], {"SUCCEEDED"})["status"] == "SUCCEEDED"


def test_lost_request_that_never_reached_finapi_fails_retryably(new_user: Any, sandbox: Any) -> None:
    user: BankUser = new_user()
    connection = user.connections["DEMO0001"]
    sandbox.world.add_fault(method="POST", path="/update", connection_id=connection, drop=True, when="before", times=1)
    started = user.api.trigger(connection, {"interface": "XS2A"})
    assert started.status_code == 202, started.text
    done = user.api.wait_for(started.json()["updateId"], {"FAILED"})
    assert done["error"]["code"] == "UPSTREAM_UNAVAILABLE" and done["error"]["retryable"] is True
    assert user.api.wait_until_unlocked(connection)["activeUpdateId"] is None


def _orphan(user: BankUser, connection: int, status: UpdateStatus) -> str:
    """The state a trigger leaves behind when its Lambda dies after taking the lock (and maybe calling finAPI)."""
    adapters = composition.adapters()
    now = adapters.clock.now()
    long_ago = now - timedelta(minutes=10)
    update_id = uuid.uuid4().hex
    adapters.connections.record_facts(user.sub, ConnectionFacts(connection, (), None, False), long_ago)
    attempt = adapters.connections.acquire_lock(
        user.sub, connection, update_id=update_id, now=now, lease_until=now + timedelta(hours=1)
    )
    assert attempt.refused is None
    adapters.updates.create(
        UpdateRecord(
            update_id=update_id,
            owner_id=user.sub,
            connection_id=connection,
            mode=UpdateMode.USER_PRESENT,
            status=status,
            created_at=long_ago,
            updated_at=long_ago,
            triggered_at=long_ago,
            finapi_called_at=long_ago,
            deadline_at=now + timedelta(minutes=5),
        )
    )
    return update_id


def test_trigger_died_after_finapi_accepted_is_recovered_on_the_next_contact(new_user: Any, sandbox: Any) -> None:
    # Given a trigger that called finAPI (which is downloading) and died before recording or starting anything
    user: BankUser = new_user()
    connection = user.connections["DEMO0001"]
    orphan = _orphan(user, connection, UpdateStatus.PENDING)
    access = composition.adapters().access
    access.client.update_bank_connection(
        access.principal(user.sub),
        UpdateBankConnectionParams(bank_connection_id=connection, interface=BankingInterface.XS2A),
    )
    # When the user syncs again
    again = user.api.trigger(connection, {"interface": "XS2A"})
    # Then they learn which update runs, and the orphan is driven to its real end; the lock is free afterwards
    assert again.status_code == 409, again.text
    assert again.json()["error"]["details"] == again.json()["error"]["details"] | {
        "updateId": orphan,
        "recovered": True,
    }
    assert user.api.wait_for(orphan, {"SUCCEEDED"})["status"] == "SUCCEEDED"
    assert user.api.wait_until_unlocked(connection)["activeUpdateId"] is None
    assert user.api.trigger(connection, {"interface": "XS2A"}).status_code == 202


def test_finalize_died_before_releasing_the_lock(new_user: Any) -> None:
    user: BankUser = new_user()
    connection = user.connections["DEMO0001"]
    orphan = _orphan(user, connection, UpdateStatus.FAILED)
    again = user.api.trigger(connection, {"interface": "XS2A"})
    assert again.status_code == 409 and again.json()["error"]["details"]["recovered"] is True
    assert user.api.wait_until_unlocked(connection)["activeUpdateId"] is None
    retried = user.api.trigger(connection, {"interface": "XS2A"})
    assert retried.status_code == 202, retried.text
    user.api.wait_for(retried.json()["updateId"], {"SUCCEEDED"})
    assert orphan != retried.json()["updateId"]


def test_lock_taken_without_a_record_is_released(new_user: Any) -> None:
    user: BankUser = new_user()
    connection = user.connections["DEMO0001"]
    adapters = composition.adapters()
    now = adapters.clock.now()
    adapters.connections.record_facts(user.sub, ConnectionFacts(connection, (), None, False), now)
    adapters.connections.acquire_lock(
        user.sub, connection, update_id="f" * 32, now=now, lease_until=now + timedelta(hours=1)
    )
    assert user.api.trigger(connection, {"interface": "XS2A"}).json()["error"]["details"]["recovered"] is True
    assert user.api.trigger(connection, {"interface": "XS2A"}).status_code == 202
