"""The built template deploys with `sam deploy` to an AWS emulator (ministack) twice, as two stacks side by side in
one account and region, and no physical resource of one is the other's."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import boto3
import pytest

from tests.template.conftest import ROOT

STACKS = ("bank-connection-updates-dev", "bank-connection-updates-prod")
# Names scoped by a parent resource (a stage lives in its own API), so equal names do not collide.
SCOPED_TYPES = {"AWS::ApiGatewayV2::Stage"}


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
    for stack in STACKS:
        _deploy(sam_bin, env, sam_build / "template.yaml", stack)
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
