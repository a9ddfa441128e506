"""User-present updates end to end: HTTP API → handlers → real ASL on moto → finAPI sandbox over loopback.

Each test is one story a user lives through; the execution history proves which path the workflow took: Poll (the
Express poll loop, waited for on a task token), AwaitUser (the user's answer), and the polls the loops made.
"""

from __future__ import annotations

from typing import Any

from tests.conftest import BankUser
from tests.support.workflow import poll_loops, polls_of, transitions_of

DEMO = [{"label": "Onlinebanking-ID", "value": "demo"}, {"label": "PIN", "value": "demo"}]
NO_SCA = [{"label": "Onlinebanking-ID", "value": "demo_no_msa"}, {"label": "PIN", "value": "demo_no_msa"}]


def embedded_procedure(update: dict[str, Any]) -> str:
    procedures = update["authentication"]["twoStepProcedures"]
    return str(next(p["procedureId"] for p in procedures if p["challengeType"] in ("TEXT", None)))


def decoupled_procedure(update: dict[str, Any]) -> str:
    procedures = update["authentication"]["twoStepProcedures"]
    return str(next(p["procedureId"] for p in procedures if "ecoupled" in p["procedureName"]))


def test_no_sca_update_succeeds_through_the_poll_loop(new_user: Any, stack: Any) -> None:
    # Given a user whose bank does not ask for SCA
    user: BankUser = new_user()
    # When they sync now
    started = user.api.trigger(user.connections["DEMO0001"], {"interface": "XS2A", "loginCredentials": NO_SCA})
    # Then the update runs straight into the poll loop and succeeds with the connection's accounts
    assert started.status_code == 202, started.text
    assert started.json()["status"] == "IN_PROGRESS"
    done = user.api.wait_for(started.json()["updateId"], {"SUCCEEDED"})
    assert {a["status"] for a in done["result"]["accounts"]} <= {"UPDATED", "UPDATED_FIXED"}
    assert len(done["result"]["accounts"]) == 2
    # And the whole update is one state transition of the update's workflow: its Poll task, which one Express poll
    # loop ended once it saw the download finish
    update_id = started.json()["updateId"]
    assert transitions_of(stack, update_id) == ["Poll"]
    assert len(poll_loops(stack, update_id)) == 1


def test_the_execution_history_lists_every_poll_with_what_it_saw_and_the_gap_it_chose(
    new_user: Any, stack: Any
) -> None:
    # Given a download of 2 s
    user: BankUser = new_user(download_seconds=2)
    # When the user syncs
    started = user.api.trigger(user.connections["DEMO0001"], {"interface": "XS2A", "loginCredentials": NO_SCA})
    update_id = started.json()["updateId"]
    user.api.wait_for(update_id, {"SUCCEEDED"})
    # Then the update's execution history holds every poll: the running ones with the gap chosen after each, and
    # the last one, which saw the download finish
    polls = polls_of(stack, update_id)
    loop = poll_loops(stack, update_id)[0]
    poll_states = [e for e in loop["events"] if e["type"] == "TaskStateEntered"]
    assert len(polls) == len(poll_states) >= 2
    assert {p["saw"] for p in polls[:-1]} == {"IN_PROGRESS"} and all(p["waitSeconds"] >= 1 for p in polls[:-1])
    assert polls[-1]["saw"] == "READY" and polls[-1]["waitSeconds"] is None
    # And each gap was a Wait state of the loop
    waits = [e for e in loop["events"] if e["type"] == "WaitStateEntered"]
    assert len(waits) == len(polls)


def test_procedure_choice_then_tan(new_user: Any, stack: Any) -> None:
    user: BankUser = new_user()
    # Given the test bank asks for a two-step procedure first
    started = user.api.trigger(user.connections["DEMO0001"], {"interface": "XS2A", "loginCredentials": DEMO})
    assert started.status_code == 202, started.text
    update = started.json()
    assert update["status"] == "AUTHENTICATION_REQUIRED"
    assert update["authentication"]["status"] == "TWO_STEP_PROCEDURE_REQUIRED"
    assert update["authentication"]["answerField"] == "twoStepProcedureId"
    # When the user picks an embedded procedure
    chosen = user.api.answer(update["updateId"], {"twoStepProcedureId": embedded_procedure(update)})
    # Then the bank asks for a TAN
    assert chosen.status_code == 200, chosen.text
    assert chosen.json()["authentication"]["status"] == "CHALLENGE_RESPONSE_REQUIRED"
    # When the user enters the TAN
    answered = user.api.answer(update["updateId"], {"challengeResponse": "123456"})
    assert answered.status_code == 200, answered.text
    # Then the download runs and the update succeeds
    done = user.api.wait_for(update["updateId"], {"SUCCEEDED"})
    assert done["authentication"] is None
    # And the workflow waited for the user once (both rounds), then polled the download
    assert transitions_of(stack, update["updateId"]) == ["Poll", "AwaitUser", "Poll"]


def test_wrong_tan_then_right_tan(new_user: Any) -> None:
    user: BankUser = new_user()
    update = user.api.trigger(user.connections["DEMO0001"], {"interface": "XS2A", "loginCredentials": DEMO}).json()
    user.api.answer(update["updateId"], {"twoStepProcedureId": embedded_procedure(update)})
    # When the first TAN is wrong
    wrong = user.api.answer(update["updateId"], {"challengeResponse": "000000"})
    # Then the bank asks again (a new round), and the right TAN completes the update
    assert wrong.status_code == 200, wrong.text
    assert wrong.json()["authentication"]["status"] == "CHALLENGE_RESPONSE_REQUIRED"
    assert wrong.json()["authentication"]["round"] == 3
    # And the app can tell, without reading the bank's free text, that the last answer was refused
    assert wrong.json()["authentication"]["previousAnswerRejected"] is True
    right = user.api.answer(update["updateId"], {"challengeResponse": "123456"})
    assert right.status_code == 200, right.text
    user.api.wait_for(update["updateId"], {"SUCCEEDED"})


def test_decoupled_confirmation_in_rounds(new_user: Any, stack: Any) -> None:
    user: BankUser = new_user()
    update = user.api.trigger(user.connections["DEMO0001"], {"interface": "XS2A", "loginCredentials": DEMO}).json()
    chosen = user.api.answer(update["updateId"], {"twoStepProcedureId": decoupled_procedure(update)})
    assert chosen.json()["authentication"]["status"] == "DECOUPLED_AUTH_REQUIRED"
    # When the app keeps confirming until the bank has the user's approval
    statuses = []
    for _ in range(10):
        answer = user.api.answer(update["updateId"], {"decoupledCallback": True})
        assert answer.status_code == 200, answer.text
        statuses.append(answer.json()["status"])
        if answer.json()["status"] != "AUTHENTICATION_REQUIRED":
            break
        assert answer.json()["authentication"]["status"] == "DECOUPLED_AUTH_IN_PROGRESS"
    # Then it took IN_PROGRESS rounds and ended in the download
    assert statuses[0] == "AUTHENTICATION_REQUIRED" and statuses[-1] == "IN_PROGRESS"
    user.api.wait_for(update["updateId"], {"SUCCEEDED"})
    assert transitions_of(stack, update["updateId"]) == ["Poll", "AwaitUser", "Poll"]


def test_redirect_bank(new_user: Any) -> None:
    user: BankUser = new_user("DEMO0002", consent_expires_at=None)
    connection = user.connections["DEMO0002"]
    started = user.api.trigger(connection, {"interface": "XS2A", "redirectUrl": "https://app.example.com/back"})
    update = started.json()
    assert update["authentication"]["status"] == "REDIRECT_REQUIRED", started.text
    # When the user finishes at the bank, which sends them back with a query string
    import httpx

    bank = httpx.get(update["authentication"]["redirectUrl"], follow_redirects=False)
    assert bank.status_code == 302
    # (the app hands over the whole URL the bank sent the user back to; the query string alone works too)
    answered = user.api.answer(update["updateId"], {"redirectCallback": bank.headers["location"]})
    # Then the update continues to success
    assert answered.status_code == 200, answered.text
    user.api.wait_for(update["updateId"], {"SUCCEEDED"})


def test_wrong_credentials_fail_with_a_message_for_the_user(new_user: Any, stack: Any) -> None:
    user: BankUser = new_user()
    bad = [{"label": "Onlinebanking-ID", "value": "demo"}, {"label": "PIN", "value": "wrong"}]
    started = user.api.trigger(user.connections["DEMO0001"], {"interface": "XS2A", "loginCredentials": bad})
    # Then the answer says what the user can do, and the update is FAILED with the lock released
    assert started.status_code == 422, started.text
    error = started.json()["error"]
    assert error["code"] == "BANK_REJECTED"
    assert error["details"]["userActionRequired"] is True
    update = user.api.update(error["details"]["updateId"]).json()
    assert update["status"] == "FAILED"
    connection = user.api.connection(user.connections["DEMO0001"]).json()
    assert connection["activeUpdateId"] is None
    assert connection["userActionRequired"] is True


def test_store_secrets_lets_a_later_update_run_without_credentials(new_user: Any, sandbox: Any) -> None:
    # Given a connection without a consent, so the bank needs the PIN
    user: BankUser = new_user(consent_expires_at=None)
    connection = user.connections["DEMO0001"]
    first = user.api.trigger(connection, {"interface": "XS2A", "loginCredentials": NO_SCA, "storeSecrets": True})
    user.api.wait_for(first.json()["updateId"], {"SUCCEEDED"})
    # When the user syncs again without typing anything
    second = user.api.trigger(connection, {"interface": "XS2A"})
    # Then finAPI uses the stored PIN and the update succeeds
    assert second.status_code == 202, second.text
    user.api.wait_for(second.json()["updateId"], {"SUCCEEDED"})


def test_import_new_accounts_shows_the_new_account(new_user: Any) -> None:
    user: BankUser = new_user()
    connection = user.connections["DEMO0001"]
    first = user.api.trigger(connection, {"interface": "XS2A"})
    user.api.wait_for(first.json()["updateId"], {"SUCCEEDED"})
    # When the user asks for new accounts too
    second = user.api.trigger(connection, {"interface": "XS2A", "importNewAccounts": True})
    done = user.api.wait_for(second.json()["updateId"], {"SUCCEEDED"})
    # Then the result lists one more account, marked as new
    accounts = done["result"]["accounts"]
    assert len(accounts) == 3
    assert [a["newAccount"] for a in accounts].count(True) == 1


def test_import_new_accounts_on_the_first_update_marks_the_new_account(new_user: Any) -> None:
    # Given a connection we have never updated before
    user: BankUser = new_user()
    # When its very first update imports new accounts
    started = user.api.trigger(user.connections["DEMO0001"], {"interface": "XS2A", "importNewAccounts": True})
    done = user.api.wait_for(started.json()["updateId"], {"SUCCEEDED"})
    # Then the account finAPI did not have before is marked new, the known ones are not
    assert [a["newAccount"] for a in done["result"]["accounts"]].count(True) == 1


def test_categorization_is_awaited_when_asked(new_user: Any) -> None:
    user: BankUser = new_user()
    started = user.api.trigger(user.connections["DEMO0001"], {"interface": "XS2A", "waitForCategorization": True})
    done = user.api.wait_for(started.json()["updateId"], {"SUCCEEDED"})
    assert done["result"]["categorizationStatus"] == "READY"


def test_a_second_trigger_while_running_is_a_conflict_naming_the_running_update(new_user: Any) -> None:
    user: BankUser = new_user()
    connection = user.connections["DEMO0001"]
    first = user.api.trigger(connection, {"interface": "XS2A", "loginCredentials": DEMO}).json()
    second = user.api.trigger(connection, {"interface": "XS2A"})
    assert second.status_code == 409
    assert second.json()["error"]["details"]["updateId"] == first["updateId"]


def test_finapi_locked_connection_fails_retryably_and_releases_our_lock(new_user: Any, sandbox: Any) -> None:
    # Given finAPI is updating the connection itself (its batch update), so it answers 423
    user: BankUser = new_user()
    connection = user.connections["DEMO0001"]
    sandbox.world.add_fault(path="/bankConnections/update", lock=True, times=1)
    started = user.api.trigger(connection, {"interface": "XS2A"})
    # Then the user is told to try again shortly, and nothing stays locked
    assert started.status_code == 409, started.text
    assert started.json()["error"]["details"]["retryable"] is True
    again = user.api.trigger(connection, {"interface": "XS2A"})
    assert again.status_code == 202, again.text


def test_a_redirect_url_is_passed_on_only_for_banks_that_log_in_on_their_website(new_user: Any, sandbox: Any) -> None:
    # Given an app that always offers its return address, and a bank that logs users in through finAPI (embedded)
    user: BankUser = new_user("DEMO0001")
    redirect_bank = sandbox.world.add_connection(user.finapi_username, bank_blz="DEMO0002", consent_expires_at=None)
    body = {"interface": "XS2A", "redirectUrl": "https://app.example.com/back"}
    # When it syncs the embedded bank
    embedded = user.api.trigger(user.connections["DEMO0001"], body)
    # Then finAPI never sees the redirectUrl (it refuses one for such an interface) and the update runs
    assert embedded.status_code == 202, embedded.text
    user.api.wait_for(embedded.json()["updateId"], {"SUCCEEDED"})
    update_calls = [c for c in sandbox.world.calls if c.connection_id == user.connections["DEMO0001"]]
    assert [c.status for c in update_calls if c.path.endswith("/update")] == [200]
    # And the connections say which bank wants the redirect, so an app can know without trying
    assert user.api.connection(user.connections["DEMO0001"]).json()["redirectApproach"] is False
    redirected = user.api.trigger(redirect_bank, body)
    assert redirected.json()["authentication"]["status"] == "REDIRECT_REQUIRED", redirected.text
    assert user.api.connection(redirect_bank).json()["redirectApproach"] is True
