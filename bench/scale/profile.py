"""What one update does, as the local stack measured it (bench/results/flows.json, cost.json): the calls it makes,
when after its start it makes them, how long each invocation holds a Lambda execution, and what it costs.

Nothing here is invented: every figure is the median over the replicates of one flow, read from the files `make bench`
wrote. A flow that `bench/invocations.py` measured one update at a time (invocations.json) is taken from there, the
others from flows.json, where the updates ran side by side and each invocation also waited for the others on this
2-core machine. Both are this machine's wall clock with moto and the finAPI sandbox in the same process: longer than
AWS's, so the concurrency they imply is an upper bound.
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

RESULTS = Path(__file__).resolve().parents[1] / "results"
START_FUNCTION = {"scheduled": "StartScheduledUpdateFunction"}
TRIGGER_FUNCTION = "TriggerUpdateFunction"
POLL_FUNCTION = "PollUpdateStatusFunction"


class UpdateProfile(BaseModel):
    """One kind of update, relative to the moment its start function was invoked (t = 0)."""

    model_config = ConfigDict(frozen=True)

    integration: str
    flow: str
    download_seconds: float
    start_seconds: float  # the start function's time for this update (TriggerUpdate or its share of a batch)
    poll_offsets: tuple[float, ...]  # when each PollUpdateStatus invocation begins, after the execution started
    poll_seconds: float  # how long one holds its execution
    loop_offsets: tuple[float, ...]  # when each Express poll loop is started
    end_seconds: float  # the execution's end, after it started
    transitions: int  # Standard state transitions
    send_task_success: float
    send_task_failure: float
    send_task_heartbeat: float
    put_events: float
    kms_calls: float
    query_invocations: float  # the app's GETs of the update (HTTP API + QueryFunction)
    query_seconds: float
    index_writes: float  # gsi1 write units (ACTIVE#<shard>; DUE#<shard> for scheduled updates)
    cost_usd: float  # per update, eu-central-1 list prices (bench/results/cost.json)
    measured: str = "side by side"  # how its updates ran when measured: "alone" (invocations.json) or side by side
    aws_call_seconds: float = 0.0  # one AWS call of the start function, on average (moto's answer included)
    start_finapi_calls: float = 0.0  # finAPI requests of the start's invocation
    poll_finapi_calls: float = 0.0  # finAPI requests of one poll (the status read, now and then a token)

    def with_finapi_latency(self, seconds: float) -> UpdateProfile:
        """The update if finAPI took ``seconds`` longer to answer each request than the local sandbox: a what-if,
        not a measurement (the sandbox answers on loopback in milliseconds). The polls keep their times: a gap counts
        from the start of the poll before it (``domain/backoff.py``)."""
        return self.model_copy(
            update={
                "start_seconds": self.start_seconds + seconds * self.start_finapi_calls,
                "poll_seconds": self.poll_seconds + seconds * self.poll_finapi_calls,
            }
        )

    @property
    def polls(self) -> int:
        return len(self.poll_offsets)


def _median(values: Sequence[float]) -> float:
    return float(statistics.median(values)) if values else 0.0


def _function(run: dict[str, object], name: str, field: str) -> float:
    functions = run["functions"]
    assert isinstance(functions, dict)
    entry = functions.get(name) or {}
    return float(entry.get(field, 0.0))


def _poll_offsets(run: dict[str, object], poll_seconds: float) -> tuple[float, ...]:
    """Each poll begins after the previous one and the gap it chose (the first at once)."""
    gaps = run.get("poll_gaps_seconds") or []
    assert isinstance(gaps, list)
    offsets, at = [], 0.0
    for gap in gaps:
        offsets.append(round(at, 3))
        at += poll_seconds + float(gap or 0)
    return tuple(offsets)


def _loop_offsets(run: dict[str, object]) -> tuple[float, ...]:
    durations = run.get("express_durations_seconds") or []
    assert isinstance(durations, list)
    offsets, at = [], 0.0
    for duration in durations:
        offsets.append(round(at, 3))
        at += float(duration)
    return tuple(offsets)


def _measured_runs(
    integration: str, flow: str, download_seconds: float, results: Path, alone: bool
) -> tuple[list[dict[str, Any]], str]:
    """The flow's successful runs: measured alone if invocations.json has them (and ``alone``), else side by side."""
    key = (integration, flow, download_seconds)
    sources = (("invocations.json", "alone"),) if alone else ()
    for name, how in (*sources, ("flows.json", "side by side")):
        path = results / name
        if not path.exists():
            continue
        runs = [
            r
            for r in json.loads(path.read_text())["runs"]
            if (r["integration"], r["flow"], float(r["download_seconds"])) == key and r["status"] == "SUCCEEDED"
        ]
        if runs:
            return runs, how
    return [], ""


def load_profile(
    integration: str, flow: str, download_seconds: float, results: Path = RESULTS, *, alone: bool = True
) -> UpdateProfile:
    """The flow as measured alone where invocations.json has it (unless ``alone`` is False), else side by side."""
    runs, measured = _measured_runs(integration, flow, download_seconds, results, alone)
    if not runs:
        raise LookupError(f"no measured run of {integration} / {flow} / {download_seconds} s in {results}")
    # The replicate with the median number of polls stands for the flow (its timings belong together).
    runs.sort(key=lambda r: (r["polls"], r["replicate"]))
    run = runs[len(runs) // 2]
    polls = _median([_function(r, POLL_FUNCTION, "invocations") for r in runs])
    poll_seconds = _median([_function(r, POLL_FUNCTION, "seconds") for r in runs]) / max(polls, 1)
    starter = START_FUNCTION.get(flow, TRIGGER_FUNCTION)
    calls = [r["aws_calls"] for r in runs]

    def call(name: str) -> float:
        return _median([float(c.get(name, 0.0)) for c in calls])

    def per(name: str, field: str, unit: str = "invocations") -> float:
        """The median over the runs of ``field`` per ``unit`` of function ``name``."""
        return _median([_function(r, name, field) / _function(r, name, unit) for r in runs if _function(r, name, unit)])

    cost = json.loads((results / "cost.json").read_text())["per_update"]
    (priced,) = [
        c
        for c in cost
        if (c["integration"], c["flow"], float(c["download_seconds"])) == (integration, flow, download_seconds)
    ]
    return UpdateProfile(
        integration=integration,
        flow=flow,
        download_seconds=download_seconds,
        start_seconds=_median([_function(r, starter, "seconds") for r in runs]),
        poll_offsets=_poll_offsets(run, poll_seconds),
        poll_seconds=poll_seconds,
        loop_offsets=_loop_offsets(run),
        end_seconds=_median([float(r["elapsed_seconds"]) for r in runs]),
        transitions=round(_median([float(r["transitions"]) for r in runs])),
        send_task_success=call("stepfunctions.SendTaskSuccess"),
        send_task_failure=call("stepfunctions.SendTaskFailure"),
        send_task_heartbeat=call("stepfunctions.SendTaskHeartbeat"),
        put_events=call("events.PutEvents"),
        kms_calls=call("kms.Decrypt"),
        query_invocations=_median([_function(r, "QueryFunction", "invocations") for r in runs]),
        query_seconds=_median([_function(r, "QueryFunction", "seconds") for r in runs])
        / max(1.0, _median([_function(r, "QueryFunction", "invocations") for r in runs])),
        index_writes=_median([float(r["index_write_units"]) for r in runs]),
        cost_usd=float(priced["total_usd"]),
        measured=measured,
        aws_call_seconds=per(starter, "aws_seconds", "aws_calls"),
        start_finapi_calls=per(starter, "finapi_calls"),
        poll_finapi_calls=per(POLL_FUNCTION, "finapi_calls"),
    )
