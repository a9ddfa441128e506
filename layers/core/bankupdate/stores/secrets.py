"""finAPI client credentials from Secrets Manager (cached by Powertools Parameters)."""

from __future__ import annotations

from aws_lambda_powertools.utilities import parameters
from pydantic import BaseModel, ConfigDict, SecretStr

from bankupdate.stores.aws import client


class FinapiClientCredentials(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    clientId: str
    clientSecret: SecretStr


def load_finapi_client_credentials(secret_id: str, max_age_seconds: int = 300) -> FinapiClientCredentials:
    provider = parameters.SecretsProvider(boto3_client=client("secretsmanager"))
    raw = provider.get(secret_id, max_age=max_age_seconds)
    return FinapiClientCredentials.model_validate_json(raw if isinstance(raw, str | bytes) else str(raw))
