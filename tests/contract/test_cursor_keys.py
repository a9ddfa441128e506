"""CursorKeys: the stack's secret gives the signing key (and the previous one while a rotation runs), read once per
process (Secrets Manager on moto; the fake gives keys it is handed)."""

from __future__ import annotations

import json

import boto3
import pytest

from bankupdate.domain.sync_cursor import CursorKey
from bankupdate.stores.cursor_keys import SecretCursorKeys
from tests.contract.conftest import REGION


def secret(aws: None, value: dict[str, str]) -> str:
    client = boto3.client("secretsmanager", region_name=REGION)
    return str(client.create_secret(Name="cursor-key", SecretString=json.dumps(value))["ARN"])


def test_the_key_and_the_previous_one_sign_and_verify(aws: None) -> None:
    keys = SecretCursorKeys(secret(aws, {"key": "n" * 40, "previousKey": "o" * 40}))
    assert keys.keys() == (CursorKey(b"n" * 40), CursorKey(b"o" * 40))


def test_the_secret_is_read_once(aws: None) -> None:
    arn = secret(aws, {"key": "n" * 40})
    keys = SecretCursorKeys(arn)
    first = keys.keys()
    boto3.client("secretsmanager", region_name=REGION).put_secret_value(SecretId=arn, SecretString='{"key": "x"}')
    assert keys.keys() == first


def test_a_short_key_is_refused(aws: None) -> None:
    with pytest.raises(ValueError, match="at least 32"):
        SecretCursorKeys(secret(aws, {"key": "short"})).keys()
