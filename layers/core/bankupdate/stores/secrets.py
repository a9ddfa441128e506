"""finAPI client credentials from Secrets Manager (read once per process: composition keeps the adapter)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, SecretStr

from bankupdate.stores.aws import client


class FinapiClientCredentials(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    clientId: str
    clientSecret: SecretStr


def load_finapi_client_credentials(secret_id: str) -> FinapiClientCredentials:
    raw = client("secretsmanager").get_secret_value(SecretId=secret_id)["SecretString"]
    return FinapiClientCredentials.model_validate_json(raw)
