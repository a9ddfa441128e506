"""State transitions each user-present scenario takes, read from the execution histories (local stack + sandbox).

`python -m bench.transitions` writes bench/results/transitions.json and transitions.md.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx

from bench.harness import DEMO, NO_SCA, RESULTS, BankUser, running_system, states_entered


def scenarios() -> dict[str, tuple[dict[str, Any], Callable[[BankUser], str]]]:
    def plain(run: BankUser) -> str:
        return str(run.trigger({"interface": "XS2A", "loginCredentials": NO_SCA})["updateId"])

    def tan(run: BankUser, wrong_first: bool = False) -> str:
        update = run.trigger({"interface": "XS2A", "loginCredentials": DEMO})["updateId"]
        run.answer(update, {"twoStepProcedureId": "901"})
        if wrong_first:
            run.answer(update, {"challengeResponse": "000000"})
        run.answer(update, {"challengeResponse": "123456"})
        return str(update)

    def decoupled(run: BankUser) -> str:
        update = run.trigger({"interface": "XS2A", "loginCredentials": DEMO})["updateId"]
        run.answer(update, {"twoStepProcedureId": "905"})
        while run.answer(update, {"decoupledCallback": True})["status"] == "AUTHENTICATION_REQUIRED":
            pass
        return str(update)

    def redirect(run: BankUser) -> str:
        started = run.trigger({"interface": "XS2A", "redirectUrl": "https://app.example/cb"})
        bank = httpx.get(started["authentication"]["redirectUrl"], follow_redirects=False)
        run.answer(started["updateId"], {"redirectCallback": httpx.URL(bank.headers["location"]).query.decode()})
        return str(started["updateId"])

    def credentials_then_store(run: BankUser) -> str:
        started = run.trigger({"interface": "XS2A"})
        run.answer(started["updateId"], {"loginCredentials": NO_SCA, "storeSecrets": True})
        return str(started["updateId"])

    def never_answers(run: BankUser) -> str:
        return str(run.trigger({"interface": "XS2A", "loginCredentials": DEMO})["updateId"])

    return {
        "no SCA (poll loop only)": ({}, plain),
        "procedure choice -> TAN": ({}, tan),
        "wrong TAN then right TAN": ({}, lambda run: tan(run, wrong_first=True)),
        "decoupled (2 IN_PROGRESS rounds)": ({}, decoupled),
        "redirect bank": ({"bank_blz": "DEMO0002", "consent_expires_at": None}, redirect),
        "credentials asked, storeSecrets": ({"consent_expires_at": None}, credentials_then_store),
        "importNewAccounts": (
            {},
            lambda run: str(run.trigger({"interface": "XS2A", "importNewAccounts": True})["updateId"]),
        ),
        "categorization awaited": (
            {},
            lambda run: str(run.trigger({"interface": "XS2A", "waitForCategorization": True})["updateId"]),
        ),
        "user never answers (EXPIRED)": ({}, never_answers),
        "download outlives deadline (TIMED_OUT)": (
            {"download_seconds": 60},
            lambda run: str(run.trigger({"interface": "XS2A"})["updateId"]),
        ),
    }


def main() -> None:
    # The template's poll settings: a 2 s download is watched inside one PollUpdateStatus invocation. The deadline and
    # the authentication window are short so that the failure paths end within seconds.
    results = []
    with running_system(
        wait_scale=0.1,
        env={"DECOUPLED_MIN_INTERVAL_SECONDS": "0"},
        sandbox_config={"download_seconds": 2.0, "categorization_seconds": 1.0},
        AuthenticationWindowSeconds="3",
        UpdateDeadlineSeconds="20",
    ) as (stack, sandbox):
        for name, (connection, play) in scenarios().items():
            run = BankUser(stack, sandbox, **connection)
            update_id = play(run)
            states = states_entered(stack, update_id)
            status = run.update(update_id)["status"]
            results.append({"scenario": name, "status": status, "transitions": len(states), "states": states})
            print(f"{name:<42} {status:<10} {len(states):>3}  {' > '.join(states)}", flush=True)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "transitions.json").write_text(json.dumps(results, indent=2) + "\n")
    lines = ["| scenario | outcome | states entered | path |", "|---|---|---|---|"]
    lines += [f"| {r['scenario']} | {r['status']} | {r['transitions']} | {' → '.join(r['states'])} |" for r in results]
    (RESULTS / "transitions.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
