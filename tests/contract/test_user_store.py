"""UserStore: a finAPI user registered for one of our users reads back, and a new registration replaces it (in memory,
and on DynamoDB with the password KMS-encrypted under the owner's encryption context)."""

from __future__ import annotations

import boto3
import pytest
from pydantic import SecretStr

from bankupdate.ports import UserStore
from tests.contract.conftest import REGION
from tests.contract.records import NOW
from tests.fakes import InMemoryUserStore


@pytest.fixture(params=["in-memory", "dynamodb"])
def users(request: pytest.FixtureRequest) -> UserStore:
    if request.param == "in-memory":
        return InMemoryUserStore()
    from bankupdate.stores.users import DynamoUserStore, PasswordVault

    table: str = request.getfixturevalue("state_table")
    key = boto3.client("kms", region_name=REGION).create_key(Description="passwords")["KeyMetadata"]["KeyId"]
    return DynamoUserStore(table, PasswordVault(key))


def test_a_registered_finapi_user_reads_back(users: UserStore) -> None:
    # When a finAPI user is registered for user-1
    users.put("user-1", "finapi-1", SecretStr("pw-1"), NOW)
    # Then it reads back with its password; nobody else has one
    found = users.get("user-1")
    assert found is not None
    assert (found.owner_id, found.username, found.password.get_secret_value()) == ("user-1", "finapi-1", "pw-1")
    assert users.get("user-2") is None


def test_registering_again_replaces_the_finapi_user(users: UserStore) -> None:
    users.put("user-1", "finapi-1", SecretStr("pw-1"), NOW)
    users.put("user-1", "finapi-2", SecretStr("pw-2"), NOW)
    found = users.get("user-1")
    assert found is not None and (found.username, found.password.get_secret_value()) == ("finapi-2", "pw-2")


@pytest.mark.parametrize("users", ["dynamodb"], indirect=True)
def test_the_table_never_holds_the_password_in_clear(users: UserStore, state_table: str) -> None:
    # Given a registered finAPI user (DynamoDB only: what the table holds)
    users.put("user-1", "finapi-1", SecretStr("a-password-to-look-for"), NOW)
    # Then no attribute of any item contains the password
    from tests.contract.conftest import scan

    assert "a-password-to-look-for" not in repr(scan(state_table))
