"""The token vault: one Secrets Manager secret per account, `<SECRET_PREFIX><subdomain>`, with an in-memory
cache that respects the access token's expiry.

The secret holds everything that must stay secret for an account: the OAuth token set (or the API-token
credentials of an account not yet migrated), and the signing secret of the project's webhook.
"""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from round_robin.aws import storage_error
from round_robin.errors import AccountNotFoundError, StorageError
from round_robin.oauth import TokenSet

CACHE_SECONDS = 300  # re-read at least this often, so a refresh made by another process is picked up
EXPIRY_LEEWAY = 60


@dataclass(frozen=True)
class Credentials:
    """An account's secret material."""

    auth_method: str  # "oauth" or "api_token"
    tokens: TokenSet | None = None
    api_email: str | None = None
    api_token: str | None = field(default=None, repr=False)
    connected_user_id: int | None = None
    webhook_id: str | None = None
    webhook_secret: str | None = field(default=None, repr=False)

    def authorization(self) -> str:
        """The Authorization header value for API calls."""
        if self.auth_method == "oauth" and self.tokens is not None:
            return f"Bearer {self.tokens.access_token}"
        if self.auth_method == "api_token" and self.api_email and self.api_token:
            raw = f"{self.api_email}/token:{self.api_token}".encode()
            return "Basic " + base64.b64encode(raw).decode("ascii")
        raise StorageError(f"the stored credentials (auth method {self.auth_method!r}) are incomplete")

    def to_json(self) -> str:
        data: dict[str, Any] = {"auth_method": self.auth_method, "connected_user_id": self.connected_user_id}
        if self.tokens is not None:
            data["tokens"] = self.tokens.to_dict()
        if self.api_token is not None:
            data["api_token"] = {"email": self.api_email, "token": self.api_token}
        if self.webhook_id is not None:
            data["webhook"] = {"id": self.webhook_id, "signing_secret": self.webhook_secret}
        return json.dumps(data)

    @classmethod
    def from_json(cls, text: str) -> Credentials:
        data = json.loads(text)
        api = data.get("api_token") or {}
        webhook = data.get("webhook") or {}
        return cls(
            auth_method=data["auth_method"],
            tokens=TokenSet.from_dict(data["tokens"]) if data.get("tokens") else None,
            api_email=api.get("email"),
            api_token=api.get("token"),
            connected_user_id=data.get("connected_user_id"),
            webhook_id=webhook.get("id"),
            webhook_secret=webhook.get("signing_secret"),
        )


class TokenVault:
    def __init__(self, prefix: str, secretsmanager: Any, clock: Callable[[], float] = time.time) -> None:
        self._prefix = prefix
        self._sm = secretsmanager
        self._clock = clock
        self._cache: dict[str, tuple[float, Credentials]] = {}
        self._lock = threading.Lock()

    def secret_name(self, subdomain: str) -> str:
        return f"{self._prefix}{subdomain}"

    def load(self, subdomain: str, *, fresh: bool = False) -> Credentials:
        """The account's credentials, from the cache unless stale, near expiry, or `fresh` is asked."""
        now = self._clock()
        with self._lock:
            cached = self._cache.get(subdomain)
        if cached and not fresh and now < cached[0]:
            return cached[1]
        try:
            answer = self._sm.get_secret_value(SecretId=self.secret_name(subdomain))
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ResourceNotFoundException":
                raise AccountNotFoundError(f"no credentials are stored for {subdomain!r}") from None
            raise storage_error(exc, "reading the account's secret") from exc
        except BotoCoreError as exc:
            raise storage_error(exc, "reading the account's secret") from exc
        credentials = Credentials.from_json(answer["SecretString"])
        self._remember(subdomain, credentials, now)
        return credentials

    def save(self, subdomain: str, credentials: Credentials, *, forget_previous: bool = False) -> None:
        """Replace the account's secret (creating it on first connect); the cache then holds the new value.

        `forget_previous` also takes the AWSPREVIOUS label off the version replaced, so Secrets Manager deletes
        it (used when an API token is replaced by OAuth: the token must not linger in the version history).
        """
        name = self.secret_name(subdomain)
        value = credentials.to_json()
        try:
            try:
                answer = self._sm.put_secret_value(SecretId=name, SecretString=value)
                if forget_previous:
                    self._drop_previous(name, answer["VersionId"])
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") != "ResourceNotFoundException":
                    raise
                self._sm.create_secret(
                    Name=name,
                    SecretString=value,
                    Description=f"Round Robin for Zendesk: credentials of {subdomain}",
                    Tags=[{"Key": "round-robin:subdomain", "Value": subdomain}],
                )
        except (ClientError, BotoCoreError) as exc:
            raise storage_error(exc, "saving the account's secret") from exc
        self._remember(subdomain, credentials, self._clock())

    def _drop_previous(self, name: str, current_version: str) -> None:
        versions = self._sm.list_secret_version_ids(SecretId=name).get("Versions", [])
        for version in versions:
            if "AWSPREVIOUS" in version.get("VersionStages", []) and version["VersionId"] != current_version:
                self._sm.update_secret_version_stage(SecretId=name, VersionStage="AWSPREVIOUS",
                                                     RemoveFromVersionId=version["VersionId"])

    def forget(self, subdomain: str) -> None:
        """Drop the cached copy (after another process may have rotated the tokens)."""
        with self._lock:
            self._cache.pop(subdomain, None)

    def _remember(self, subdomain: str, credentials: Credentials, now: float) -> None:
        valid_until = now + CACHE_SECONDS
        tokens = credentials.tokens
        if tokens is not None and tokens.access_expires_at is not None:
            valid_until = min(valid_until, tokens.access_expires_at - EXPIRY_LEEWAY)
        with self._lock:
            self._cache[subdomain] = (valid_until, credentials)

