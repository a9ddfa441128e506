"""The built template deploys with `sam deploy` to an AWS emulator (ministack) twice, as two stacks side by side in
one account and region, and no physical resource of one is the other's."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import boto3
import pytest
from samtranslator.yaml_helper import yaml_parse

from tests.template.conftest import ROOT

STACKS = ("bank-connection-updates-dev", "bank-connection-updates-prod")
# Names scoped by a parent resource (a stage lives in its own API), so equal names do not collide.
SCOPED_TYPES = {"AWS::ApiGatewayV2::Stage"}
# The statistics of an alarm's single-metric form (`Statistic`); any other `Stat` would be an `ExtendedStatistic`.
STATISTICS = {"SampleCount", "Average", "Sum", "Minimum", "Maximum"}


def _references(node: Any) -> set[str]:
    """The resources and parameters a part of the template names (Ref, Fn::GetAtt, Fn::Sub variables aside)."""
    if isinstance(node, list):
        return set().union(*map(_references, node)) if node else set()
    if not isinstance(node, dict):
        return set()
    found = {str(node["Ref"])} if "Ref" in node else set()
    if "Fn::GetAtt" in node:
        target = node["Fn::GetAtt"]
        found.add(str(target[0] if isinstance(target, list) else target.split(".", 1)[0]))
    return found.union(*map(_references, node.values()))


def _for_ministack(built: Path) -> Path:
    """The built template as ministack can deploy it: AWS documents metric math for `AWS::CloudWatch::Alarm`
    (`Metrics`), ministack's CloudFormation refuses it ("Properties.Metrics (metric math) is not supported; use
    MetricName and Namespace"). Such an alarm watches its first input metric instead, in the single-metric form with
    the same dimensions, so it is still created, names the same resources and gets a physical name of its own; its
    expression is not checked here (docs/local-stack-fidelity.md). Nothing else in the template changes. Written
    beside the built template, whose relative code paths it keeps."""
    template = yaml_parse(built.read_text())
    for logical_id, resource in template["Resources"].items():
        properties = resource.get("Properties", {})
        if resource["Type"] != "AWS::CloudWatch::Alarm" or "Metrics" not in properties:
            continue
        metrics = properties.pop("Metrics")
        stat = next(query["MetricStat"] for query in metrics if "MetricStat" in query)
        assert stat["Stat"] in STATISTICS, f"{logical_id}: {stat['Stat']} has no single-metric stand-in here"
        properties |= {
            "Namespace": stat["Metric"]["Namespace"],
            "MetricName": stat["Metric"]["MetricName"],
            "Dimensions": stat["Metric"].get("Dimensions", []),
            "Period": stat["Period"],
            "Statistic": stat["Stat"],
        }
        # A stand-in that dropped a reference would no longer prove that it resolves
        assert _references(stat) == _references(metrics), f"{logical_id}: the inputs name different resources"
    deployed = built.with_name("template.ministack.json")
    deployed.write_text(json.dumps(template, indent=1))
    return deployed


def _deploy(sam_bin: str, env: dict[str, str], template: Path, stack: str) -> None:
    done = subprocess.run(
        [
            sam_bin, "deploy", "--template-file", str(template), "--stack-name", stack, "--resolve-s3",
            "--capabilities", "CAPABILITY_IAM", "CAPABILITY_AUTO_EXPAND", "--no-confirm-changeset",
            "--no-fail-on-empty-changeset", "--region", "eu-central-1",
            "--parameter-overrides", "JwtIssuer=https://issuer.example", "JwtAudience=app",
            f"Stage={stack.rsplit('-', 1)[1]}",
        ],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]


@pytest.mark.slow
def test_two_stacks_deploy_side_by_side(sam_bin: str, sam_env: dict[str, str], sam_build: Path, ministack: str) -> None:
    credentials = {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test", "AWS_DEFAULT_REGION": "eu-central-1"}
    env = sam_env | credentials | {"AWS_ENDPOINT_URL": ministack}
    env.pop("AWS_PROFILE", None)
    # When the built template is deployed twice, as dev and prod, in one account
    template = _for_ministack(sam_build / "template.yaml")
    for stack in STACKS:
        _deploy(sam_bin, env, template, stack)
    # Then both stacks exist with every resource created
    cloudformation = boto3.client("cloudformation", endpoint_url=ministack, region_name="eu-central-1",
                                  aws_access_key_id="test", aws_secret_access_key="test")  # fmt: skip
    created = {}
    for stack in STACKS:
        resources = cloudformation.describe_stack_resources(StackName=stack)["StackResources"]
        assert {r["ResourceStatus"] for r in resources} == {"CREATE_COMPLETE"}, stack
        created[stack] = {r["LogicalResourceId"]: r for r in resources}
    # And no resource of the second stack took a physical name of the first's (a schedule named the same in both
    # would be one schedule: on AWS the second stack fails to create)
    dev, prod = (created[s] for s in STACKS)
    clashes = [
        lid
        for lid, r in dev.items()
        if r["ResourceType"] not in SCOPED_TYPES
        and prod.get(lid, {}).get("PhysicalResourceId") == r["PhysicalResourceId"]
    ]
    assert clashes == []
    assert len(dev) >= 40, f"only {len(dev)} resources: the deploy did not create the application"
    assert os.environ.get("AWS_ENDPOINT_URL") != ministack, "the test must not point the process at the emulator"
