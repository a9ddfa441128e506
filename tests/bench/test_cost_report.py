"""The cost model's arithmetic, the bench's reading of what the workflow billed, and the cost model document against
the committed benchmark results (no timing here: only arithmetic on recorded numbers)."""

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bankupdate.domain import backoff
from bench import capacity, cost, flows, report
from bench.harness import ROOT
from bench.pricing import PRICES_USD


def _function(memory_mb: int, **measured: float) -> dict[str, float]:
    base = {"invocations": 1.0, "cpu_seconds": 0.0, "slept_seconds": 0.0, "aws_calls": 0.0, "finapi_calls": 0.0}
    return base | {"memory_mb": float(memory_mb)} | measured


def test_cost_model_document_matches_the_committed_results() -> None:
    # Given the results of the last `make bench`
    measured, cold = report.load("flows.json"), report.load("cold_start.json")
    scheduler = report.load("scheduler.json")
    # When the cost tables (the inputs, the services, the shapes compared) are computed from them
    expected = report.cost_markdown(report.cost_rows(measured, cold, scheduler))
    # Then docs/cost-model.md shows exactly those tables
    text = (ROOT / "docs" / "cost-model.md").read_text()
    block = re.search(r"<!-- bench:cost -->\n(.*?)<!-- /bench:cost -->", text, flags=re.S)
    assert block is not None
    assert block.group(1) == expected
    # And the prices it used, with their sources
    prices = re.search(r"<!-- bench:prices -->\n(.*?)<!-- /bench:prices -->", text, flags=re.S)
    assert prices is not None and prices.group(1) == report.prices_markdown()


def test_the_summary_has_a_verdict_for_every_goal_of_the_issue_in_both_integrations() -> None:
    # Given the committed results
    measured, cold = report.load("flows.json"), report.load("cold_start.json")
    rows = report.cost_rows(measured, cold, report.load("scheduler.json"))
    # When the budget and detection lag lines are written
    budgets = report.budget_lines(rows)
    lags = report.lag_lines(measured["updates"])
    # Then each of issue 19's seven budgets has a line per integration, and every measured flow a lag line, each
    # with a verdict
    assert len(report.BUDGETS) == 7
    assert len(budgets) == 2 * len(report.BUDGETS)
    assert len(lags) == len(measured["updates"])
    assert all(line.rstrip(" |").endswith("met") or "MISSED by" in line for line in budgets + lags)
    # And every measured flow has its D19 baseline, the price of the shape being the difference
    for row in rows:
        assert row["d19"] is not None, (row["integration"], row["flow"], row["download_seconds"])
        assert row["price_of_shape_usd"] == pytest.approx(row["total_usd"] - row["d19"]["total_usd"])


def test_lambda_bills_cpu_stretched_by_the_memory_share_plus_sleeps_and_calls() -> None:
    # Given a 128 MB function that used 10 ms of CPU, slept 2 s and made 3 AWS calls and 2 finAPI calls
    function = _function(128, cpu_seconds=0.010, slept_seconds=2.0, aws_calls=3, finapi_calls=2)
    # When its billed duration is modelled
    seconds = cost.billed_seconds(function, finapi_call_seconds=0.1)
    # Then the CPU counts 1769/128 times (a 128 MB function has that share of a vCPU), the rest as it is
    assert seconds == pytest.approx(0.010 * 1769 / 128 + 2.0 + 3 * cost.AWS_CALL_SECONDS + 2 * 0.1)
    # And at one vCPU or more, CPU time is not stretched
    assert cost.cpu_stretch(1769) == 1.0 and cost.cpu_stretch(3008) == 1.0


def test_an_update_costs_the_sum_of_its_parts() -> None:
    # Given one update: 3 Standard transitions, 2 Express poll loops billed 0.5 GB-s, a 512 MB trigger, 20 RRU,
    # 10 WRU + 2 GSI WRU, 3 SQS chunks and 2 poller requests, one 64 KB event chunk, 2 KMS calls, 2 HTTP requests,
    # 1 KB of logs
    row = {
        "flow": "user-present, no SCA",
        "transitions": 3,
        "express_executions": 2,
        "express_gb_seconds": 0.5,
        "functions": {"TriggerUpdateFunction": _function(512, cpu_seconds=0.02, aws_calls=5)},
        "aws_calls": {"kms.Decrypt": 2, "dynamodb.GetItem": 4, "stepfunctions.StartExecution": 1},
        "read_units": 20,
        "write_units": 10,
        "index_write_units": 2,
        "sqs_chunks": 3,
        "sqs_consumer_requests": 2,
        "event_chunks": 1,
        "http_requests": 2,
        "log_bytes": 1000,
    }
    # When it is priced
    usd = cost.update_cost(row)
    # Then Step Functions is the Standard transitions plus the Express requests and GB-seconds (its API calls are
    # free), and every other service its units times its price
    assert usd["sfn standard"] == pytest.approx(3 * 0.000025)
    assert usd["sfn express"] == pytest.approx(2 * 1e-6 + 0.5 * 0.06 / 3600)
    gb_seconds = (0.02 * 1769 / 512 + 5 * cost.AWS_CALL_SECONDS) * 0.5
    assert usd["lambda"] == pytest.approx(0.2e-6 + gb_seconds * 0.0000133334)
    assert usd["dynamodb"] == pytest.approx(20 * 0.1525e-6 + 12 * 0.7625e-6)
    assert usd["sqs"] == pytest.approx(5 * 0.4e-6)
    assert usd["events"] == pytest.approx(1e-6)
    assert usd["kms"] == pytest.approx(2 * 3e-6)
    assert usd["apigateway"] == pytest.approx(2 * 1.2e-6)
    assert usd["logs"] == pytest.approx((1000 + 260) / 1e9 * 0.63)


def test_an_express_execution_is_billed_from_start_to_stop_in_started_100_ms_steps_at_64_mb() -> None:
    assert cost.billed_express_seconds(0.0) == pytest.approx(0.1)
    assert cost.billed_express_seconds(0.1) == pytest.approx(0.1)
    assert cost.billed_express_seconds(8.121) == pytest.approx(8.2)
    assert cost.EXPRESS_MEMORY_GB == 64 / 1024
    # And a loop's duration is read from the first to the last event of its log
    t0 = datetime(2026, 12, 1, tzinfo=UTC)
    loop = {"status": "SUCCEEDED", "events": [{"timestamp": str(t0)}, {"timestamp": str(t0 + timedelta(seconds=5.01))}]}
    read = flows.express_loops([loop, loop])
    assert read["express_executions"] == 2
    assert read["express_billed_seconds"] == pytest.approx(2 * 5.1)
    assert read["express_gb_seconds"] == pytest.approx(2 * 5.1 * 64 / 1024)


def _event(at: datetime, kind: str, **details: Any) -> dict[str, Any]:
    return {"timestamp": at, "type": kind, **details}


def test_the_standard_workflow_is_read_from_the_execution_history() -> None:
    # Given the history of an update that polled, waited for its user, polled (its Poll task started twice: a
    # retry), waited a long gap in the Standard workflow and polled to the end
    t0 = datetime(2026, 12, 1, tzinfo=UTC)

    def state(name: str, entered: float, exited: float, tasks: int = 0) -> list[dict[str, Any]]:
        scheduled = [_event(t0 + timedelta(seconds=entered), "TaskScheduled") for _ in range(tasks)]
        return [
            _event(t0 + timedelta(seconds=entered), "TaskStateEntered", stateEnteredEventDetails={"name": name}),
            *scheduled,
            _event(t0 + timedelta(seconds=exited), "TaskStateExited", stateExitedEventDetails={"name": name}),
        ]

    events = [
        _event(t0, "ExecutionStarted"),
        *state("Poll", 0, 2, tasks=1),
        *state("AwaitUser", 2, 30, tasks=1),
        *state("Poll", 30, 100, tasks=2),
        *state("ReadWait", 100, 100),
        *state("WaitLonger", 100, 180),
        *state("Poll", 180, 200, tasks=1),
        _event(t0 + timedelta(seconds=200), "ExecutionSucceeded"),
    ]
    # When the bench reads it
    read = flows.standard_workflow(events)
    # Then every state entered is a transition, and the second start of a task a retry (billed alike)
    assert read["states"] == ["Poll", "AwaitUser", "Poll", "ReadWait", "WaitLonger", "Poll"]
    assert read["retries"] == 1
    assert read["state_entries"] == {"Poll": 3, "AwaitUser": 1, "ReadWait": 1, "WaitLonger": 1}
    assert read["state_seconds"] == {"AwaitUser": 28.0, "Poll": 92.0, "ReadWait": 0.0, "WaitLonger": 80.0}
    # And the polling spans run from a Poll to the next wait for the user or the end, the long Wait included
    assert read["polling_spans_seconds"] == [2.0, 170.0]


def test_the_other_shapes_step_functions_inputs_are_computed_from_the_measured_ones() -> None:
    # Given a measured update: Poll → AwaitUser → Poll → ReadWait → WaitLonger → Poll (one retry), 12 Poll states
    # in its loops, polling spans of 2 s and 400 s
    run = {
        "state_entries": {"Poll": 3, "AwaitUser": 1, "ReadWait": 1, "WaitLonger": 1},
        "retries": 1,
        "poll_states": 12,
        "polling_spans_seconds": [2.0, 400.0],
    }
    # When the other shapes' Step Functions inputs are computed
    shapes = cost.candidate_inputs(run)
    # Then Standard throughout: a Wait, the Poll task and a Choice per Poll state; the user's wait and the retry kept
    assert shapes["standard"] == {"transitions": 3 * 12 + 1 + 1, "express_executions": 0.0, "express_gb_seconds": 0.0}
    # And Express throughout: one Poll state per span in the parent, each span polled in loops that live
    # LOOP_LIFE_SECONDS (Express's 300 s less the poll reserve), its whole length billed at 64 MB
    assert cost.LOOP_LIFE_SECONDS == 170
    assert shapes["express"]["transitions"] == 2 + 1 + 1
    assert shapes["express"]["express_executions"] == 1 + 3  # 2 s; 400 s = 170 + 170 + 60
    assert shapes["express"]["express_gb_seconds"] == pytest.approx((2.0 + 400.0) * 64 / 1024)


def test_every_shape_is_priced_with_everything_but_step_functions_as_measured() -> None:
    # Given a measured flow (one replicate) that cost $50 per million besides Step Functions (50 event chunks)
    run = {
        "integration": "ACCESS",
        "flow": "scheduled",
        "download_seconds": 60.0,
        "transitions": 1,
        "express_executions": 1,
        "express_gb_seconds": 4.0,
        "states": ["Poll"],
        "state_entries": {"Poll": 1},
        "retries": 0,
        "poll_states": 20,
        "polling_spans_seconds": [64.0],
        "functions": {},
        "aws_calls": {},
        "event_chunks": 50,
    }
    d19 = {("ACCESS", "scheduled", 60.0): {"total_usd": 80e-6, "polls": 25}}
    # When the report prices it in every shape
    (row,) = report.cost_rows({"updates": [run], "runs": [run]}, {}, [], d19)
    shapes = row["shapes"]
    # Then the shape built costs what was measured
    assert shapes["as_built"]["total_usd"] == pytest.approx(row["total_usd"])
    assert shapes["as_built"]["stepfunctions_usd"] == pytest.approx(25e-6 + 1e-6 + 4.0 * 0.06 / 3600)
    # And the others differ from it in Step Functions only
    assert shapes["standard"]["stepfunctions_usd"] == pytest.approx(60 * 25e-6)
    assert shapes["express"]["stepfunctions_usd"] == pytest.approx(25e-6 + 1e-6 + 64.0 * 64 / 1024 * 0.06 / 3600)
    for name in ("standard", "express", "as_built"):
        assert shapes[name]["total_usd"] - shapes[name]["stepfunctions_usd"] == pytest.approx(50e-6)
    # And the price of the shape is the measured cost less the D19 baseline's
    assert row["price_of_shape_usd"] == pytest.approx(row["total_usd"] - 80e-6)


def test_detection_lag_goals_are_absolute_for_short_downloads_and_a_share_from_a_minute() -> None:
    def row(download: float, lag: float) -> dict[str, Any]:
        return {"download_seconds": download, "lag_seconds": lag, "lag_share": lag / download}

    assert report._lag_goal(row(5.0, 1.4))[1] is True  # 28 % of 5 s, but within 1.5 s
    assert report._lag_goal(row(5.0, 1.6))[1] is False
    assert report._lag_goal(row(60.0, 9.0))[1] is True
    assert report._lag_goal(row(600.0, 91.0))[1] is False


def test_dynamodb_item_sizes_follow_dynamodbs_rules() -> None:
    # Given an item with a string, a number, a boolean, a list and a map
    item = {
        "pk": {"S": "UPDATE#ab"},
        "n": {"N": "12345"},
        "b": {"BOOL": True},
        "l": {"L": [{"S": "x"}, {"N": "1"}]},
        "m": {"M": {"k": {"S": "vv"}}},
    }
    # When its size is computed
    size = capacity.item_size(item)
    # Then names count, strings by bytes, numbers ~1 byte per 2 digits + 1, lists and maps 3 + 1 per element
    assert size == (2 + 9) + (1 + 4) + (1 + 1) + (1 + 3 + (1 + 1) + (2 + 1)) + (1 + 3 + (1 + 2 + 1))


def test_write_and_read_units_round_up_per_kilobyte_and_four_kilobytes() -> None:
    # A write bills the larger of the item before and after, per started KB (at least one); a failed condition too
    assert capacity.write_units(0, 300) == 1
    assert capacity.write_units(1500, 900) == 2
    assert capacity.write_units(0, 0) == 1
    # A strongly consistent read bills per started 4 KB, an eventually consistent one half
    assert capacity.read_units(5000, consistent=True) == 2
    assert capacity.read_units(100, consistent=False) == 0.5


def test_a_keys_only_index_is_written_when_the_item_enters_leaves_or_moves_in_it() -> None:
    index = [("gsi1pk", "gsi1sk")]
    open_update = {"pk": {"S": "U"}, "gsi1pk": {"S": "ACTIVE#1"}, "gsi1sk": {"S": "t#u"}}
    terminal = {"pk": {"S": "U"}}
    # Entering the index: one write; leaving it: one; unchanged keys: none; new keys: a delete and a put
    assert capacity.index_writes(index, None, open_update) == 1
    assert capacity.index_writes(index, open_update, terminal) == 1
    assert capacity.index_writes(index, open_update, dict(open_update, status={"S": "X"})) == 0
    assert capacity.index_writes(index, open_update, dict(open_update, gsi1sk={"S": "later"})) == 2
    assert capacity.index_writes(index, terminal, terminal) == 0


def test_the_poll_loops_hand_over_gap_is_the_break_even_of_the_prices_the_cost_model_uses() -> None:
    # Given the cost model's prices (whose Step Functions ones come from the core's one home of them)
    transition = PRICES_USD["stepfunctions.standard_transition"]
    express_second = 64 / 1024 * PRICES_USD["stepfunctions.express_gb_second"]
    # When the core decides where a gap is waited
    break_even = backoff.LoopCost().break_even_gap_seconds()
    # Then a gap is handed to the Standard workflow exactly where its three transitions and a new loop cost what the
    # gap costs in Express seconds (about 73 s)
    assert break_even == pytest.approx((3 * transition + PRICES_USD["stepfunctions.express_request"]) / express_second)
    assert 70 < break_even < 75
