"""The token vault against an in-memory Secrets Manager that can lose the race to create a secret."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from round_robin.accounts.credentials import Credentials, TokenSet
from round_robin.accounts.vault import TokenVault


def _error(code: str, operation: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": code}}, operation)


class FakeSecretsManager:
    """Secrets by name (their current value only); `before_create` runs just before a create_secret lands."""

    def __init__(self) -> None:
        self.values: dict[str, str] = {}
        self.before_create: Any = None

    def put_secret_value(self, *, SecretId: str, SecretString: str) -> dict[str, Any]:
        if SecretId not in self.values:
            raise _error("ResourceNotFoundException", "PutSecretValue")
        self.values[SecretId] = SecretString
        return {"VersionId": f"v{len(self.values)}"}

    def create_secret(self, *, Name: str, SecretString: str, **_: Any) -> dict[str, Any]:
        if self.before_create is not None:
            hook, self.before_create = self.before_create, None
            hook()
        if Name in self.values:
            raise _error("ResourceExistsException", "CreateSecret")
        self.values[Name] = SecretString
        return {"Name": Name}

    def list_secret_version_ids(self, *, SecretId: str) -> dict[str, Any]:
        return {"Versions": []}  # the fake keeps no history

    def get_secret_value(self, *, SecretId: str) -> dict[str, Any]:
        if SecretId not in self.values:
            raise _error("ResourceNotFoundException", "GetSecretValue")
        return {"SecretString": self.values[SecretId]}


def credentials(access_token: str) -> Credentials:
    return Credentials("oauth", TokenSet(access_token=access_token, refresh_token=f"refresh-{access_token}",
                                         access_expires_at=None, refresh_expires_at=None, scope="read"))


def test_a_first_save_that_loses_the_race_to_create_the_secret_overwrites_it():
    # given two first connects of one account: the other one creates the secret between our put and our create
    secrets = FakeSecretsManager()
    vault = TokenVault("rr/accounts/", secrets, clock=lambda: 1000.0)
    other = TokenVault("rr/accounts/", secrets, clock=lambda: 1000.0)
    secrets.before_create = lambda: other.save("acme", credentials("theirs"))

    # when
    vault.save("acme", credentials("ours"))

    # then no error, and the last writer's value is stored (as for any reconnect)
    assert Credentials.from_json(secrets.values["rr/accounts/acme"]).tokens.access_token == "ours"
    assert vault.load("acme", fresh=True).tokens.access_token == "ours"
