"""IdempotencyStore: one run per Idempotency-Key, a repeat gets the first answer; the fake answers as Powertools over
the template's idempotency table (moto) does."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from bankupdate.domain.errors import IdempotencyKeyReused, UpdateAlreadyRunning
from bankupdate.ports import IdempotencyStore, IdempotentCall
from tests.fakes import InMemoryIdempotencyStore, ManualClock

CALL = IdempotentCall(key={"owner": "user-1", "connection": 7, "key": "k-1"}, fingerprint={"options": {"a": 1}})


@pytest.fixture(params=["in-memory", "dynamodb"])
def idempotency(request: pytest.FixtureRequest) -> IdempotencyStore:
    if request.param == "in-memory":
        return InMemoryIdempotencyStore(ManualClock(datetime.now(UTC)))
    from bankupdate.stores.idempotency import PowertoolsIdempotencyStore

    table: str = request.getfixturevalue("idempotency_table")
    return PowertoolsIdempotencyStore(table, ttl_seconds=3600)


def counting(answer: dict[str, Any]) -> tuple[list[int], Callable[[], dict[str, Any]]]:
    runs: list[int] = []

    def action() -> dict[str, Any]:
        runs.append(1)
        return answer

    return runs, action


@pytest.mark.filterwarnings("ignore:Couldn't determine the remaining time left")
def test_a_repeat_gets_the_first_answer_without_running_again(idempotency: IdempotencyStore) -> None:
    # Given a call that ran once
    runs, action = counting({"updateId": "u-1"})
    first = idempotency.run_once(CALL, action)
    # When the same call comes again
    again = idempotency.run_once(CALL, action)
    # Then it gets the same answer and the action did not run a second time
    assert first == again == {"updateId": "u-1"}
    assert len(runs) == 1


@pytest.mark.filterwarnings("ignore:Couldn't determine the remaining time left")
def test_the_same_key_with_other_options_is_refused(idempotency: IdempotencyStore) -> None:
    # Given a call that ran once
    idempotency.run_once(CALL, counting({"updateId": "u-1"})[1])
    # When the key comes again with other options
    runs, action = counting({"updateId": "u-2"})
    other = IdempotentCall(key=CALL.key, fingerprint={"options": {"a": 2}})
    # Then it is refused, and nothing ran
    with pytest.raises(IdempotencyKeyReused):
        idempotency.run_once(other, action)
    assert runs == []


@pytest.mark.filterwarnings("ignore:Couldn't determine the remaining time left")
def test_another_key_runs_on_its_own(idempotency: IdempotencyStore) -> None:
    idempotency.run_once(CALL, counting({"updateId": "u-1"})[1])
    other = IdempotentCall(key=CALL.key | {"key": "k-2"}, fingerprint=CALL.fingerprint)
    assert idempotency.run_once(other, counting({"updateId": "u-2"})[1]) == {"updateId": "u-2"}


@pytest.mark.filterwarnings("ignore:Couldn't determine the remaining time left")
def test_a_call_that_failed_frees_its_key(idempotency: IdempotencyStore) -> None:
    # Given a call whose action raised
    def broken() -> dict[str, Any]:
        raise RuntimeError("finAPI said no")

    with pytest.raises(RuntimeError):
        idempotency.run_once(CALL, broken)
    # When it is repeated
    runs, action = counting({"updateId": "u-1"})
    # Then it runs again
    assert idempotency.run_once(CALL, action) == {"updateId": "u-1"}
    assert len(runs) == 1


@pytest.mark.filterwarnings("ignore:Couldn't determine the remaining time left")
def test_a_repeat_while_the_first_still_runs_is_told_to_come_back(idempotency: IdempotencyStore) -> None:
    # Given a call whose action is still running
    running, finish = threading.Event(), threading.Event()

    def slow() -> dict[str, Any]:
        running.set()
        assert finish.wait(timeout=15)
        return {"updateId": "u-1"}

    first: list[dict[str, Any]] = []
    worker = threading.Thread(target=lambda: first.append(idempotency.run_once(CALL, slow)))
    worker.start()
    assert running.wait(timeout=15)
    # When the same call comes meanwhile
    try:
        with pytest.raises(UpdateAlreadyRunning):
            idempotency.run_once(CALL, counting({"updateId": "u-2"})[1])
    finally:
        finish.set()
        worker.join(timeout=15)
    # Then it was told so, and the first call got its answer
    assert first == [{"updateId": "u-1"}]
