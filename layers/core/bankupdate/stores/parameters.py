"""Values only known once the stack exists, kept in SSM Parameter Store (the caller keeps what it read)."""

from __future__ import annotations

from bankupdate.stores.aws import client


def api_base_url(parameter_name: str) -> str:
    return str(client("ssm").get_parameter(Name=parameter_name)["Parameter"]["Value"])
