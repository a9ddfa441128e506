"""Values only known once the stack exists, kept in SSM Parameter Store (cached per process)."""

from __future__ import annotations

from aws_lambda_powertools.utilities import parameters

from bankupdate.stores.aws import client


def api_base_url(parameter_name: str, max_age_seconds: int = 3600) -> str:
    provider = parameters.SSMProvider(boto3_client=client("ssm"))
    return str(provider.get(parameter_name, max_age=max_age_seconds))
