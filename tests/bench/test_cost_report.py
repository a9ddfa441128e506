"""The cost model's arithmetic, and the cost model document against the committed benchmark results (no timing here:
only arithmetic on recorded numbers)."""

import re

import pytest

from bankupdate.domain import backoff
from bench import capacity, cost, report
from bench.harness import ROOT
from bench.pricing import PRICES_USD


def _function(memory_mb: int, **measured: float) -> dict[str, float]:
    base = {"invocations": 1.0, "cpu_seconds": 0.0, "slept_seconds": 0.0, "aws_calls": 0.0, "finapi_calls": 0.0}
    return base | {"memory_mb": float(memory_mb)} | measured


def test_cost_model_document_matches_the_committed_results() -> None:
    # Given the results of the last `make bench`
    flows, cold = report.load("flows.json"), report.load("cold_start.json")
    scheduler = report.load("scheduler.json")
    # When the cost table is computed from them
    expected = report.cost_markdown(report.cost_rows(flows["updates"], cold, scheduler))
    # Then docs/cost-model.md shows exactly that table
    text = (ROOT / "docs" / "cost-model.md").read_text()
    block = re.search(r"<!-- bench:cost -->\n(.*?)<!-- /bench:cost -->", text, flags=re.S)
    assert block is not None
    assert block.group(1) == expected
    # And the prices it used, with their sources
    prices = re.search(r"<!-- bench:prices -->\n(.*?)<!-- /bench:prices -->", text, flags=re.S)
    assert prices is not None and prices.group(1) == report.prices_markdown()


def test_the_summary_has_a_verdict_for_every_budget_of_the_issue_in_both_integrations() -> None:
    # Given the committed results
    flows, cold = report.load("flows.json"), report.load("cold_start.json")
    rows = report.cost_rows(flows["updates"], cold, report.load("scheduler.json"))
    # When the budget lines are written
    lines = report.budget_lines(rows)
    # Then each of the five budgets has a line per integration, each with a verdict
    assert len(lines) == 2 * len(report.BUDGETS)
    assert all(line.rstrip(" |").endswith("met") or "MISSED by" in line for line in lines)


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
    # Given one update: 1 transition, a 512 MB trigger, 20 RRU, 10 WRU + 2 GSI WRU, 3 SQS chunks and 2 poller
    # requests, one 64 KB event chunk, 2 KMS calls, 2 HTTP requests, 1 KB of logs
    row = {
        "flow": "user-present, no SCA",
        "transitions": 1,
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
    # Then each service is its units times its price (Step Functions API calls are free: transitions only)
    assert usd["stepfunctions"] == pytest.approx(0.000025)
    gb_seconds = (0.02 * 1769 / 512 + 5 * cost.AWS_CALL_SECONDS) * 0.5
    assert usd["lambda"] == pytest.approx(0.2e-6 + gb_seconds * 0.0000133334)
    assert usd["dynamodb"] == pytest.approx(20 * 0.1525e-6 + 12 * 0.7625e-6)
    assert usd["sqs"] == pytest.approx(5 * 0.4e-6)
    assert usd["events"] == pytest.approx(1e-6)
    assert usd["kms"] == pytest.approx(2 * 3e-6)
    assert usd["apigateway"] == pytest.approx(2 * 1.2e-6)
    assert usd["logs"] == pytest.approx((1000 + 260) / 1e9 * 0.63)


def test_an_express_execution_cannot_hold_a_ten_minute_update() -> None:
    # Given a scheduled update that ran ten minutes
    row = {"flow": "scheduled", "download_seconds": 600.0, "elapsed_seconds": 603.0, "functions": {}, "transitions": 1}
    # When the Express alternative is computed
    express = cost.express_alternative(row, standard_usd=0.0001)
    # Then it is not possible: Express executions run at most five minutes
    assert express == {"download_seconds": 600.0, "possible": False}


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
