"""The cost model document shows what the committed benchmark results say (no timing here: only arithmetic)."""

import re

import pytest

from bench import report
from bench.harness import ROOT
from bench.pricing import PRICES_USD, aws_calls_usd_by_service, lambda_usd


def test_cost_model_document_matches_the_committed_results() -> None:
    # Given the results of the last `make bench`
    polling, warm, scheduler = report.load("polling.json"), report.load("warm.json"), report.load("scheduler.json")
    # When the cost table is computed from them
    expected = report.cost_markdown(report.cost_table(polling, warm, scheduler), report.express_alternative(polling))
    # Then docs/cost-model.md shows exactly that table
    text = (ROOT / "docs" / "cost-model.md").read_text()
    block = re.search(r"<!-- bench:cost -->\n(.*?)<!-- /bench:cost -->", text, flags=re.S)
    assert block is not None
    assert block.group(1) == expected


def test_a_metered_update_costs_the_sum_of_its_parts() -> None:
    # Given one update: 4 transitions, 3 invocations (1.5 GB-s), 2 DynamoDB writes, 1 read, 1 event, 1 KMS call
    row = {
        "cost_usd": {"stepfunctions": 4 * PRICES_USD["stepfunctions.standard_transition"], "logs": 0.0},
        "invocations": {"A": 2, "B": 1},
        "gb_seconds": 1.5,
        "aws_calls": {"dynamodb.UpdateItem": 2, "dynamodb.GetItem": 1, "events.PutEvents": 1, "kms.Decrypt": 1},
    }
    # When it is priced per service
    cost = report.measured_update(row)
    # Then each service is its calls times its price, and Step Functions API calls are free
    assert cost["stepfunctions"] == pytest.approx(0.0001)
    assert cost["lambda"] == pytest.approx(lambda_usd(3, 1.5))
    assert cost["dynamodb"] == pytest.approx(4 * 0.7625e-6 + 0.1525e-6)
    assert cost["events"] == pytest.approx(1e-6)
    assert cost["kms"] == pytest.approx(3e-6)
    assert aws_calls_usd_by_service({"stepfunctions.StartExecution": 5}) == {"stepfunctions": 0.0}
