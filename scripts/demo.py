"""`make demo`: the whole story against the local stack (moto + the real handlers + the finAPI sandbox).

Exits non-zero as soon as a step does not behave. Takes about 50 s. Every line it prints is for a person: one
event per line, with the seconds since the start, in words (never a Python ``None``).
"""

from __future__ import annotations

import json
import re
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "layers" / "core"))

from finapi_sandbox import SandboxConfig, SandboxServer  # noqa: E402
from finapi_sandbox.webform import WebFormConfig, WebFormServer  # noqa: E402
from local_stack import LocalStack  # noqa: E402

USER = "demo-user-sub"
ISSUER, AUDIENCE = "https://issuer.demo.local", "bank-app-demo"
STARTED = time.monotonic()


class DemoFailed(Exception):
    pass


def say(text: str) -> None:
    print(f"[{time.monotonic() - STARTED:6.1f}s] {text}", flush=True)


def expect(condition: bool, what: str, detail: Any = "") -> None:
    if not condition:
        raise DemoFailed(f"{what}: {detail}")


def step(title: str) -> None:
    print(f"\n== {title}", flush=True)


# What each kind of two-step procedure asks of the user (finAPI's `challengeType`; none for decoupled approval).
PROCEDURE_KINDS = {
    "TEXT": "a TAN by text message or app",
    "FLICKER_CODE": "a flicker code read by a TAN generator",
    "PHOTO": "a picture scanned by the TAN app",
}


def procedure_line(procedure: dict[str, Any]) -> str:
    kind = PROCEDURE_KINDS.get(procedure.get("challengeType") or "", "approval in the banking app (decoupled)")
    return f"  - {procedure['procedureId']} {procedure['procedureName']}: {kind}"


def run_line(run: int, queued: int, called: int, schedule: dict[str, Any]) -> str:
    """One scheduler run, as the operator would describe it."""
    used, total = schedule["unattendedUsedToday"], schedule["unattendedUsedToday"] + schedule["unattendedLeftToday"]
    skipped = f"skipped: {schedule['lastSkipReason']}" if schedule["lastSkipReason"] else "updated"
    return (
        f"run {run}: {queued} connections due; connection 1 {skipped}, finAPI called {called}x, "
        f"bank budget {used}/{total} used today"
    )


class StatusTrail:
    """The statuses an update went through, one line per change (with the seconds it took to get there)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._since = clock()
        self._last: str | None = None

    def line(self, status: str) -> str | None:
        """The line to print for ``status``, or None when it is the status already shown."""
        if status == self._last:
            return None
        self._last = status
        return f"  update status {status} (after {self._clock() - self._since:.1f} s)"


class App:
    """What a banking app does, over HTTP."""

    def __init__(self, stack: LocalStack) -> None:
        token = stack.issue_token(sub=USER)
        self.http = httpx.Client(
            base_url=stack.api_url,
            headers={"Authorization": f"Bearer {token}", "User-Agent": "DemoBankApp/1.0 (iPhone; iOS 17.1)"},
            timeout=30,
        )

    def call(self, method: str, path: str, body: Any = None, status: int = 200) -> dict[str, Any]:
        answer = self.http.request(method, path, json=body)
        expect(answer.status_code == status, f"{method} {path} answered {answer.status_code}", answer.text)
        result: dict[str, Any] = answer.json() if answer.content else {}
        return result

    def answer(self, update_id: str, body: dict[str, Any]) -> dict[str, Any]:
        answer = self.http.post(f"/v1/updates/{update_id}/authentication", json=body)
        expect(answer.status_code == 200, f"answer to {update_id} answered {answer.status_code}", answer.text)
        result: dict[str, Any] = answer.json()
        return result

    def watch(self, update_id: str, until: set[str], timeout: float = 60) -> dict[str, Any]:
        deadline, trail = time.monotonic() + timeout, StatusTrail()
        while time.monotonic() < deadline:
            update = self.call("GET", f"/v1/updates/{update_id}")
            line = trail.line(update["status"])
            if line is not None:
                say(line)
            if update["status"] in until:
                return update
            expect(update["status"] not in {"SUCCEEDED", "FAILED", "EXPIRED"}, "update ended unexpectedly", update)
            time.sleep(0.25)
        raise DemoFailed(f"update {update_id} did not reach {until} in {timeout} s")


def history_of(stack: LocalStack, update_id: str) -> list[dict[str, Any]]:
    """The update's execution history (the Standard workflow's: Express loops keep none), once the execution ended:
    the update's record turns terminal inside the poll function, a few transitions before its execution ends."""
    arn = stack.physical_id("UpdateConnectionStateMachine").replace(":stateMachine:", ":execution:")
    sfn = stack.boto3_client("stepfunctions")
    deadline = time.monotonic() + 60
    while sfn.describe_execution(executionArn=f"{arn}:{update_id}")["status"] == "RUNNING":
        if time.monotonic() > deadline:
            raise DemoFailed(f"the execution of {update_id} did not end in 60 s")
        time.sleep(0.1)
    events: list[dict[str, Any]] = sfn.get_execution_history(executionArn=f"{arn}:{update_id}", maxResults=1000)[
        "events"
    ]
    return events


def path_of(history: list[dict[str, Any]]) -> list[str]:
    return [e["stateEnteredEventDetails"]["name"] for e in history if "stateEnteredEventDetails" in e]


def wait_endings(history: list[dict[str, Any]], state: str = "AwaitUser") -> list[str]:
    """How each wait in ``state`` ended: TaskSucceeded (resumed) or TaskTimedOut (its fallback poll)."""
    entered = {e["id"] for e in history if e.get("stateEnteredEventDetails", {}).get("name") == state}
    endings, waiting = [], False
    for event in history:
        if event["id"] in entered:
            waiting = True
        elif waiting and event["type"] in ("TaskSucceeded", "TaskTimedOut", "TaskFailed"):
            endings.append(event["type"])
            waiting = False
    return endings


def polls_in(history: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each Poll task of the update's workflow ends with the polls its loops made (output or hand-back cause)."""
    polls: list[dict[str, Any]] = []
    for event in history:
        if event["type"] == "TaskSucceeded" and event["taskSucceededEventDetails"].get("resourceType") == "states":
            polls += json.loads(event["taskSucceededEventDetails"]["output"]).get("polls", [])
        elif event["type"] == "TaskFailed" and event["taskFailedEventDetails"].get("resourceType") == "states":
            polls += json.loads(event["taskFailedEventDetails"].get("cause") or "{}").get("polls", [])
    return polls


def account_line(account: dict[str, Any]) -> str:
    new = "  NEW" if account["newAccount"] else ""
    balance = "—" if account["balance"] is None else f"{account['balance']:.2f}"
    brought = account.get("importedTransactions")
    news = f"  {brought} new transactions" if brought is not None else ""
    return (
        f"  {account['name'] or '—':<12} {account['iban'] or '—':<22}  {account['status']:<16} {balance:>10} EUR"
        f"{new}{news}"
    )


def show_accounts(update: dict[str, Any]) -> None:
    for account in update["result"]["accounts"]:
        say(account_line(account))


def user_present_story(app: App, stack: LocalStack) -> None:
    demo = [{"label": "Onlinebanking-ID", "value": "demo"}, {"label": "PIN", "value": "demo"}]
    step("1. Sync now on the finAPI Test Bank (connection 1), user present")
    started = app.call("POST", "/v1/bank-connections/1/updates", {"interface": "XS2A", "loginCredentials": demo}, 202)
    update_id = started["updateId"]
    challenge = started["authentication"]
    expect(challenge and challenge["status"] == "TWO_STEP_PROCEDURE_REQUIRED", "bank asks for a procedure", started)
    say(f"update {update_id}: the bank asks to choose a two-step procedure")
    for procedure in challenge["twoStepProcedures"]:
        say(procedure_line(procedure))
    step("2. The user picks smsTAN")
    tan = app.answer(update_id, {"twoStepProcedureId": "901"})["authentication"]
    expect(tan["status"] == "CHALLENGE_RESPONSE_REQUIRED", "bank asks for a TAN", tan)
    say(f"bank: {tan['message']!r} (field: {tan['answerFieldLabel']})")
    step("3. The user types the TAN 123456; the poll loop watches the download")
    running = app.answer(update_id, {"challengeResponse": "123456"})
    say(f"answer accepted, update is {running['status']}")
    done = app.watch(update_id, {"SUCCEEDED"})
    say(f"SUCCEEDED with {len(done['result']['accounts'])} accounts:")
    show_accounts(done)
    history = history_of(stack, update_id)
    path = path_of(history)
    waited = (
        "the user's rounds waited in AwaitUser" if "AwaitUser" in path else "the user answered before its first poll"
    )
    say(f"workflow: {' -> '.join(path)} (the download polled in an Express loop; {waited})")
    polls = polls_in(history)
    expect(
        bool(polls) and polls[-1]["saw"] == "READY", "the history lists the polls, the last one seeing the end", polls
    )
    say(f"the execution history lists the download's {len(polls)} polls (status seen -> gap chosen):")
    for poll in polls:
        gap = f"wait {poll['waitSeconds']} s" if poll["waitSeconds"] is not None else "done"
        say(f"  {poll['at'][11:23]}  {poll['saw']:<12} {gap}")

    step("4. Sync again with importNewAccounts=true")
    started = app.call("POST", "/v1/bank-connections/1/updates", {"interface": "XS2A", "importNewAccounts": True}, 202)
    expect(started["status"] == "IN_PROGRESS", "a valid consent needs no SCA", started)
    done = app.watch(started["updateId"], {"SUCCEEDED"})
    expect(any(a["newAccount"] for a in done["result"]["accounts"]), "a new account was imported", done)
    show_accounts(done)


def store_secrets_story(app: App, sandbox: SandboxServer) -> int:
    step("5. A connection whose consent is gone: credentials once, with storeSecrets=true")
    connection = sandbox.world.add_connection("demo-user", consent_expires_at=None)
    started = app.call("POST", f"/v1/bank-connections/{connection}/updates", {"interface": "XS2A"}, 202)
    expect(started["authentication"]["status"] == "CREDENTIALS_REQUIRED", "service asks for credentials", started)
    say(f"connection {connection}: finAPI needs the login credentials -> the app asks the user")
    credentials = [{"label": "Onlinebanking-ID", "value": "demo_no_msa"}, {"label": "PIN", "value": "demo_no_msa"}]
    app.answer(started["updateId"], {"loginCredentials": credentials, "storeSecrets": True})
    app.watch(started["updateId"], {"SUCCEEDED"})
    expect(sandbox.world.connection(connection)["pinStored"], "finAPI stored the PIN")
    say("finAPI stored the PIN (we never did): background updates can now run without the user")
    return connection


def scheduled_story(app: App, stack: LocalStack, sandbox: SandboxServer, stored: int) -> None:
    step("6. Background updates: opt in, then the schedule fires")
    needs_sca = sandbox.world.add_connection("demo-user", consent_expires_at=None, stored_pin=True)
    url = f"{stack.api_url}/v1/admin/users/{USER}/connections/sync"
    synced = httpx.post(url, headers=stack.admin_headers("POST", url, b""))
    expect(synced.status_code == 200 and needs_sca in synced.json()["connectionIds"], "operator syncs", synced.text)
    say(f"operator synced the user's connections from finAPI: {synced.json()['connectionIds']}")
    for connection in (1, stored, needs_sca):
        app.call("PUT", f"/v1/bank-connections/{connection}/schedule", {"enabled": True})
    updates_at_finapi: Callable[[int], int] = lambda cid: sum(  # noqa: E731
        1 for c in sandbox.world.calls if c.path.endswith("/update") and c.connection_id == cid and not c.psu_present
    )
    for run in range(1, 6):
        before = updates_at_finapi(1)
        queued = stack.fire_schedule("ScheduleUpdatesFunctionScheduler")
        settle(stack)
        health = app.call("GET", "/v1/bank-connections/1")["schedule"]
        called = updates_at_finapi(1) - before
        say(run_line(run, queued["enqueued"], called, health))
        if run <= 4:
            expect(called == 1 and health["lastSkipReason"] is None, f"run {run} updates connection 1", health)
        else:
            expect(called == 0 and health["lastSkipReason"] == "BUDGET_EXHAUSTED", "5th run is refused", health)
        for connection in (1, stored):  # the user opts in again to be due at once (otherwise: next slot in 6 h)
            app.call("PUT", f"/v1/bank-connections/{connection}/schedule", {"enabled": True})
    say(f"remedy shown to the user: {health['remedy']}")
    settle(stack)
    sca = app.call("GET", f"/v1/bank-connections/{needs_sca}")
    expect(
        sca["userActionRequired"] and sca["schedule"]["lastSkipReason"] == "USER_ACTION_REQUIRED", "SCA skipped", sca
    )
    events = [e for e in stack.published_events() if e["detail-type"] == "BankConnection UserActionRequired"]
    expect(any(e["detail"]["connectionId"] == needs_sca for e in events), "an event says the user must act", events)
    say(f"connection {needs_sca} needs SCA: not updated in the background; event 'BankConnection UserActionRequired'")


def web_form_story(sandbox: SandboxServer) -> None:
    step("7. Web Form 2.0 mode: the same service for a fintech without its own finAPI licence")
    with (
        WebFormServer(sandbox, WebFormConfig(allow_http_loopback_urls=True, decoupled_poll_seconds=0)) as webform,
        local_stack(sandbox, {"Integration": "WEB_FORM", "WebFormBaseUrl": webform.base_url}) as stack,
    ):
        say(f"finAPI Web Form 2.0 sandbox {webform.base_url}, HTTP API {stack.api_url} (Integration=WEB_FORM)")
        register(stack)
        app = App(stack)
        started = app.call("POST", "/v1/bank-connections/1/updates", {}, 202)
        say(f"sync now on connection 1: finAPI's background update task {started['status']}")
        done = app.watch(started["updateId"], {"SUCCEEDED"})
        path = path_of(history_of(stack, started["updateId"]))
        say(f"SUCCEEDED without the user ({len(done['result']['accounts'])} accounts): the poll loop saw finAPI's task")
        say(f"complete (workflow: {' -> '.join(path)}; its callback came while the loop's own gaps were short)")
        connection = sandbox.world.add_connection("demo-user", consent_expires_at=None)
        body = {"redirectUrl": "https://app.example.com/synced"}
        started = app.call("POST", f"/v1/bank-connections/{connection}/updates", body, 202)
        waiting = app.watch(started["updateId"], {"AUTHENTICATION_REQUIRED"})
        form = waiting["authentication"]
        expect(form["status"] == "WEB_FORM_REQUIRED" and form["webFormUrl"], "the bank needs the user", waiting)
        say(f"connection {connection} needs the user: the app opens finAPI's web form {form['webFormUrl'][:60]}...")
        complete_web_form(form["webFormUrl"])
        say("the user logs in, picks smsTAN and types 123456 in finAPI's web form")
        done = app.watch(started["updateId"], {"SUCCEEDED"})
        history = history_of(stack, started["updateId"])
        path = path_of(history)
        expect("AwaitUser" in path, "the workflow waited for the user", path)
        how = (
            "finAPI's callback ended the wait"
            if wait_endings(history)[-1] == "TaskSucceeded"
            else ("the wait's fallback poll found the form done (no callback came in time)")
        )
        say(f"SUCCEEDED, {len(done['result']['accounts'])} accounts read; workflow: {' -> '.join(path)}")
        say(f"  (AwaitUser waited for the user in finAPI's web form; {how})")
        forged = httpx.post(f"{stack.api_url}/v1/webform-callbacks/{'x' * 43}/finalised", json={"status": "COMPLETED"})
        expect(forged.status_code == 404, "a forged callback is refused", forged.text)
        say("a forged callback (unknown token) gets 404 and changes nothing")


def complete_web_form(url: str) -> None:
    """What the user does in finAPI's web form (each step a form post; the page carries a CSRF token)."""
    form_id = url.split("/wf/", 1)[1].split("?", 1)[0]
    base = url.split("/wf/", 1)[0]
    with httpx.Client(follow_redirects=True, timeout=15) as browser:
        page = browser.get(url)
        for action, fields in (
            ("credentials", {"userId": "demo", "pin": "demo"}),
            ("procedure", {"procedureId": "901"}),
            ("challenge", {"challengeResponse": "123456"}),
        ):
            csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
            expect(csrf is not None, f"the web form shows the {action} step", page.text[:300])
            assert csrf is not None
            page = browser.post(f"{base}/wf/{form_id}/{action}", data={"csrf": csrf.group(1)} | fields)


def settle(stack: LocalStack) -> None:
    try:
        stack.settle(timeout=30)
    except TimeoutError as error:
        raise DemoFailed("scheduled work did not finish") from error


def local_stack(sandbox: SandboxServer, parameters: dict[str, str] | None = None) -> LocalStack:
    return LocalStack(
        ROOT / "template.yaml",
        parameter_overrides={"FinapiBaseUrl": sandbox.base_url, "JwtIssuer": ISSUER, "JwtAudience": AUDIENCE}
        | {"AllowedRedirectUrls": "https://app.example.com/"}
        | (parameters or {}),
        api_port=0,
        wait_scale=1.0,  # the polls' gaps as they are: whole seconds
        secrets={
            "FinapiClientSecret": json.dumps({"clientId": sandbox.client_id, "clientSecret": sandbox.client_secret})
        },
        env_overrides={
            "POWERTOOLS_TRACE_DISABLED": "true",
            "POWERTOOLS_LOG_LEVEL": "WARNING",
            "WEBFORM_FALLBACK_MIN_GAP_SECONDS": "2",
        },
    )


def register(stack: LocalStack) -> None:
    url = f"{stack.api_url}/v1/admin/users/{USER}/finapi-user"
    body = json.dumps({"finapiUsername": "demo-user", "finapiPassword": "demo-password"}).encode()
    registered = httpx.put(
        url, content=body, headers=stack.admin_headers("PUT", url, body) | {"content-type": "application/json"}
    )
    expect(registered.status_code == 204, "operator registers the demo user (IAM-signed)", registered.text)


def main() -> int:
    config = SandboxConfig.default().model_copy(
        update={"download_seconds": 3.0, "categorization_seconds": 1.0, "check_conformance": True}
    )
    step("Starting the finAPI sandbox and the local stack (moto, real handlers, real ASL)")
    with SandboxServer(config) as sandbox:
        with local_stack(sandbox) as stack:
            say(f"finAPI sandbox {sandbox.base_url}, HTTP API {stack.api_url}")
            register(stack)
            say("operator registered the user's finAPI user (password stored KMS-encrypted)")
            app = App(stack)
            user_present_story(app, stack)
            stored = store_secrets_story(app, sandbox)
            scheduled_story(app, stack, sandbox, stored)
        web_form_story(sandbox)
        log = sandbox.conformance
        findings = log.take() if log else ["conformance checking is off"]
        expect(not findings, "every exchange with finAPI follows finAPI's official spec", findings)
        say(f"all {log.checked if log else 0} exchanges with finAPI checked against finAPI's official spec: no finding")
    print(f"\nDemo finished in {time.monotonic() - STARTED:.1f} s: every step behaved.", flush=True)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except DemoFailed as failure:
        print(f"\nDEMO FAILED: {failure}", file=sys.stderr, flush=True)
        sys.exit(1)
