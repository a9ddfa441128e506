"""Our time above finAPI's on the bank-data routes: the sync cursor (GET .../transactions/changes) and a connection's
accounts, as an app calls them over HTTP on the local stack (warm functions), measured as bench/latency.py measures
every other call: the client's wait minus the time the function waited on finAPI (the sandbox), split into the local
HTTP layer, AWS calls (moto), our CPU and the rest.

Each round: a fresh user whose connection was updated once (the service knows it), an app cursor taken "from now",
a day passing at the bank, a second update; then the reads an app makes: the accounts (the user's first finAPI read
in the function: its finAPI token is fetched, the password read and decrypted), the pages of what the update brought
(100 per page, each one finAPI call for the transactions' details), the same cursor again when nothing is new, the
list of one update (``fromUpdate``), the accounts again; and, as a control measured under the same load, an existing
read of one item (``GET /v1/updates/{id}``, bench/latency.py's "read update"). The first rounds warm the functions
up and are left out.

`python -m bench.changes` writes bench/results/changes.json and changes.md (BENCH_CHANGES_ROUNDS, default 20).
"""

from __future__ import annotations

import json
import os
import time
from typing import Any

from bench.harness import NO_SCA, RESULTS, BankUser, running_system
from bench.latency import TARGET_MS, Recorder, markdown, summarise
from bench.metering import metered

WARM_UP_ROUNDS = 3
FUNCTION = "BankDataFunction"
DAY = 86400.0


def _synced(user: BankUser) -> dict[str, Any]:
    update_id = user.trigger({"interface": "XS2A", "loginCredentials": NO_SCA})["updateId"]
    deadline = time.monotonic() + 60
    while (update := user.update(update_id))["status"] != "SUCCEEDED":
        if update["status"] in ("FAILED", "EXPIRED") or time.monotonic() > deadline:
            raise RuntimeError(f"update {update_id} did not succeed: {update}")
        time.sleep(0.1)
    while user.http.get(f"/v1/bank-connections/{user.connection}").json()["activeUpdateId"]:
        time.sleep(0.05)
    return update


def changes_round(stack: Any, sandbox: Any, record: Recorder) -> None:
    user = BankUser(stack, sandbox, download_seconds=0.5, imported_account_count=3).sync()
    path = f"/v1/bank-connections/{user.connection}"
    _synced(user)
    start = record.call("changes: from now", FUNCTION, lambda: user.http.get(f"{path}/transactions/changes"))
    sandbox.world.set_clock_offset(sandbox.world.clock_offset + DAY)
    update = _synced(user)
    # An app shows the accounts first: the user's first finAPI read in this function (its finAPI token is fetched)
    record.call("accounts (the user's first finAPI read here)", FUNCTION, lambda: user.http.get(f"{path}/accounts"))
    cursor = start.json()["nextCursor"]
    while True:
        query = {"cursor": cursor, "limit": 100}
        page = record.call(
            "changes: a page of new transactions (≤ 100)",
            FUNCTION,
            lambda q=query: user.http.get(f"{path}/transactions/changes", params=q),  # type: ignore[misc]
        ).json()
        cursor = page["nextCursor"]
        if not page["hasMore"]:
            break
    query = {"cursor": cursor}
    record.call("changes: nothing new", FUNCTION, lambda: user.http.get(f"{path}/transactions/changes", params=query))
    one = {"fromUpdate": update["updateId"], "limit": 500}
    record.call(
        "changes: one update's (≤ 500)", FUNCTION, lambda: user.http.get(f"{path}/transactions/changes", params=one)
    )
    record.call("accounts", FUNCTION, lambda: user.http.get(f"{path}/accounts"))
    # The control: an existing read (one GetItem, no finAPI), measured under the same load as the routes above
    update_path = f"/v1/updates/{update['updateId']}"
    record.call("control: read update (QueryFunction)", "QueryFunction", lambda: user.http.get(update_path))
    user.http.close()


def measure(rounds: int) -> list[dict[str, Any]]:
    with metered() as meter, running_system(wait_scale=1.0, env={"POWERTOOLS_LOG_LEVEL": "INFO"}) as (stack, sandbox):
        record = Recorder(meter)
        for n in range(rounds + WARM_UP_ROUNDS):
            if n == WARM_UP_ROUNDS:
                record.samples.clear()
            changes_round(stack, sandbox, record)
            print(f"changes: round {n + 1}/{rounds + WARM_UP_ROUNDS}", flush=True)
    rows = summarise([(s.kind, s.client_seconds, s.invocation) for s in record.samples])
    for row in rows:
        row["integration"] = "ACCESS"
    return rows


def main() -> None:
    rounds = int(os.environ.get("BENCH_CHANGES_ROUNDS", "20"))
    load_before = os.getloadavg()
    rows = measure(rounds)
    load_after = os.getloadavg()
    # The machine's load says how far the wall-clock figures stretch: the in-process servers share its CPUs.
    load = {"cpus": os.cpu_count(), "before_1_5_15_min": load_before, "after_1_5_15_min": load_after}
    RESULTS.mkdir(parents=True, exist_ok=True)
    verdict = all(row["meets_target"] for row in rows)
    document = {"rounds": rounds, "target_ms_p95": TARGET_MS, "all_met": verdict, "load": load, "calls": rows}
    (RESULTS / "changes.json").write_text(json.dumps(document, indent=2) + "\n")
    (RESULTS / "changes.md").write_text(
        "# The bank-data routes: our time above finAPI's\n\n"
        "`python -m bench.changes` (bench/changes.py); the columns as in latency.md. Load average (1, 5, 15 min) on "
        f"{load['cpus']} CPUs: {_load(load_before)} before, {_load(load_after)} after.\n\n" + markdown(rows, rounds)
    )
    print((RESULTS / "changes.md").read_text())


def _load(values: tuple[float, float, float]) -> str:
    return " / ".join(f"{v:.1f}" for v in values)


if __name__ == "__main__":
    main()
