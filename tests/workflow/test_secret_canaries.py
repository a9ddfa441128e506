"""Secrets go nowhere: run the flows with unique canary values and search everything the system kept or emitted."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import httpx

from tests.conftest import register_finapi_user
from tests.support.workflow import history, wait_until_finished


def everything_the_system_kept(stack: Any, update_ids: list[str], responses: list[str]) -> dict[str, str]:
    ddb = stack.boto3_client("dynamodb")
    tables = {}
    for logical_id in ("StateTable", "IdempotencyTable"):
        name = stack.physical_id(logical_id)
        items: list[Any] = []
        kwargs: dict[str, Any] = {"TableName": name}
        while True:  # a test may Scan; the application never does
            page = ddb.scan(**kwargs)
            items += page["Items"]
            if "LastEvaluatedKey" not in page:
                break
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        tables[logical_id] = json.dumps(items, default=str)
    for update_id in update_ids:
        wait_until_finished(stack, update_id)
    return {
        **tables,
        "logs": "\n".join(stack.function_logs()),
        "events": json.dumps(stack.published_events(), default=str),
        "executions": json.dumps([history(stack, u) for u in update_ids], default=str),
        # The poll loops' input and every state's input and output (what their CloudWatch log would hold at ALL)
        "poll_loops": json.dumps(stack.express_history("PollLoopStateMachine"), default=str),
        "responses": "\n".join(responses),
    }


def test_canary_secrets_appear_nowhere(new_user: Any, stack: Any, sandbox: Any) -> None:
    canary = f"canary{uuid.uuid4().hex[:12]}"
    # Given a user whose bank login, TAN, redirect answer and finAPI password are unique canaries
    finapi_password = f"{canary}-finapi-password"
    sub = f"user-{canary}"
    sandbox.world.create_user(f"finapi-{canary}", finapi_password)
    connection = sandbox.world.add_connection(f"finapi-{canary}", bank_blz="DEMO0001")
    redirect_connection = sandbox.world.add_connection(f"finapi-{canary}", bank_blz="DEMO0002")
    register_finapi_user(stack, sub, f"finapi-{canary}", finapi_password)
    from tests.support.api_client import BankUpdateApi

    api = BankUpdateApi(stack.api_url, stack.issue_token(sub=sub))
    responses: list[str] = []
    wrong_pin = f"{canary}-wrong-pin"
    wrong_tan = f"{canary}9"

    # When it goes through every flow that carries a secret
    bad = api.trigger(
        connection,
        {
            "interface": "XS2A",
            "loginCredentials": [{"label": "Onlinebanking-ID", "value": "demo"}, {"label": "PIN", "value": wrong_pin}],
        },
    )
    responses.append(bad.text)
    started = api.trigger(
        connection,
        {
            "interface": "XS2A",
            "loginCredentials": [{"label": "Onlinebanking-ID", "value": "demo"}, {"label": "PIN", "value": "demo"}],
        },
    )
    responses.append(started.text)
    update = started.json()
    procedure = update["authentication"]["twoStepProcedures"][0]["procedureId"]
    responses.append(api.answer(update["updateId"], {"twoStepProcedureId": procedure}).text)
    responses.append(api.answer(update["updateId"], {"challengeResponse": wrong_tan}).text)
    responses.append(api.answer(update["updateId"], {"challengeResponse": "123456"}).text)
    responses.append(json.dumps(api.wait_for(update["updateId"], {"SUCCEEDED"})))
    malformed = api.trigger(connection, {"loginCredentials": [{"label": "PIN", "value": wrong_pin, "extra": 1}]})
    assert malformed.status_code == 422
    responses.append(malformed.text)
    redirect = api.trigger(redirect_connection, {"interface": "XS2A", "redirectUrl": "https://app.example.com/cb"})
    responses.append(redirect.text)
    redirect_answer = f"state=wrong&code={canary}-redirect-code"
    responses.append(api.answer(redirect.json()["updateId"], {"redirectCallback": redirect_answer}).text)
    # ... and the scheduled path (admin sync, opt-in, unattended run with the stored finAPI password)
    sync_url = f"{stack.api_url}/v1/admin/users/{sub}/connections/sync"
    responses.append(httpx.post(sync_url, headers=stack.admin_headers("POST", sync_url, b"")).text)
    known = {
        e["name"]
        for e in stack.boto3_client("stepfunctions").list_executions(
            stateMachineArn=stack.physical_id("UpdateConnectionStateMachine")
        )["executions"]
    }
    responses.append(api.connection_schedule(connection, enabled=True).text)
    responses.append(json.dumps(stack.fire_schedule("ScheduleUpdatesFunctionScheduler")))
    scheduled = _wait_for_scheduled_update(stack, api, connection, known)
    api.close()

    # Then no canary is in any table, log line, event, execution history or API answer
    kept = everything_the_system_kept(stack, [update["updateId"], redirect.json()["updateId"], scheduled], responses)
    for where, text in kept.items():
        for secret in (wrong_pin, wrong_tan, finapi_password, f"{canary}-redirect-code"):
            assert secret not in text, f"{secret} leaked into {where}"
    # And the flows really ran (the search above looked at real material)
    assert kept["logs"] and kept["events"] != "[]" and "AwaitUser" in kept["executions"]
    assert update["updateId"] in kept["poll_loops"] and scheduled in kept["poll_loops"]
    assert scheduled in kept["executions"]


def _wait_for_scheduled_update(stack: Any, api: Any, connection: int, known: set[str], timeout: float = 30) -> str:
    deadline = time.monotonic() + timeout
    machine = stack.physical_id("UpdateConnectionStateMachine")
    while time.monotonic() < deadline:
        health = api.connection(connection).json()
        if health["schedule"]["unattendedUsedToday"] == 1 and health["activeUpdateId"] is None:
            names = {
                e["name"]
                for e in stack.boto3_client("stepfunctions").list_executions(stateMachineArn=machine)["executions"]
            }
            new = names - known
            if len(new) == 1:
                return str(new.pop())
        time.sleep(0.2)
    raise AssertionError("the scheduled update did not run")
