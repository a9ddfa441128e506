"""finAPI user records: ``USER#<owner>`` / ``FINAPI_USER``; the password is stored KMS-encrypted only."""

from __future__ import annotations

import base64
from datetime import datetime

from pydantic import SecretStr

from bankupdate.ports import FinapiUserRecord
from bankupdate.stores.aws import ServiceClient


class PasswordVault:
    """KMS with the owner id as encryption context: a ciphertext copied onto another user's item cannot decrypt."""

    _kms = ServiceClient("kms")

    def __init__(self, key_id: str) -> None:
        self._key_id = key_id

    def encrypt(self, owner_id: str, password: SecretStr) -> str:
        answer = self._kms.encrypt(
            KeyId=self._key_id,
            Plaintext=password.get_secret_value().encode(),
            EncryptionContext={"ownerId": owner_id},
        )
        return base64.b64encode(answer["CiphertextBlob"]).decode()

    def decrypt(self, owner_id: str, ciphertext: str) -> SecretStr:
        answer = self._kms.decrypt(
            CiphertextBlob=base64.b64decode(ciphertext), EncryptionContext={"ownerId": owner_id}, KeyId=self._key_id
        )
        return SecretStr(answer["Plaintext"].decode())


class DynamoUserStore:
    _ddb = ServiceClient("dynamodb")

    def __init__(self, table_name: str, vault: PasswordVault) -> None:
        self._table = table_name
        self._vault = vault

    def put(self, owner_id: str, username: str, password: SecretStr, now: datetime) -> None:
        self._ddb.put_item(
            TableName=self._table,
            Item={
                "pk": {"S": f"USER#{owner_id}"},
                "sk": {"S": "FINAPI_USER"},
                "username": {"S": username},
                "encrypted_password": {"S": self._vault.encrypt(owner_id, password)},
                "updated_at": {"S": now.isoformat()},
            },
        )

    def get(self, owner_id: str) -> FinapiUserRecord | None:
        answer = self._ddb.get_item(
            TableName=self._table, Key={"pk": {"S": f"USER#{owner_id}"}, "sk": {"S": "FINAPI_USER"}}
        )
        item = answer.get("Item")
        if item is None:
            return None
        password = self._vault.decrypt(owner_id, item["encrypted_password"]["S"])
        return FinapiUserRecord(owner_id=owner_id, username=item["username"]["S"], password=password)
