"""The token vault: one Secrets Manager secret per account, `<SECRET_PREFIX><subdomain>`, with an in-memory
cache that respects the access token's expiry.

The secret holds the account's API credentials: the OAuth token set (or the API-token credentials of an account
not yet migrated). Webhook signing secrets live apart, in SigningSecretStore below, so that the internet-facing
receiver can read them without being able to read any token. (Accounts connected before that split still have
the signing secret in this secret too; the maintenance run copies it over.)
"""

from __future__ import annotations

import json
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from round_robin.accounts.credentials import Credentials
from round_robin.aws.clients import storage_error
from round_robin.errors import AccountNotFoundError

CACHE_SECONDS = 300  # re-read at least this often, so a refresh made by another process is picked up
EXPIRY_LEEWAY = 60


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
                self._put(name, value, forget_previous)
            except ClientError as exc:
                if _code(exc) != "ResourceNotFoundException":
                    raise
                try:
                    self._sm.create_secret(
                        Name=name,
                        SecretString=value,
                        Description=f"Round Robin for Zendesk: credentials of {subdomain}",
                        Tags=[{"Key": "round-robin:subdomain", "Value": subdomain}],
                    )
                except ClientError as exists:
                    if _code(exists) != "ResourceExistsException":
                        raise
                    # Another first save created it since our put: write ours over it, as any later save would, and
                    # drop the value replaced (it holds credentials nobody will use).
                    self._put(name, value, forget_previous=True)
        except (ClientError, BotoCoreError) as exc:
            raise storage_error(exc, "saving the account's secret") from exc
        self._remember(subdomain, credentials, self._clock())

    def _put(self, name: str, value: str, forget_previous: bool) -> None:
        answer = self._sm.put_secret_value(SecretId=name, SecretString=value)
        if forget_previous:
            self._drop_previous(name, answer["VersionId"])

    def _drop_previous(self, name: str, current_version: str) -> None:
        versions = self._sm.list_secret_version_ids(SecretId=name).get("Versions", [])
        for version in versions:
            if "AWSPREVIOUS" in version.get("VersionStages", []) and version["VersionId"] != current_version:
                self._sm.update_secret_version_stage(SecretId=name, VersionStage="AWSPREVIOUS",
                                                     RemoveFromVersionId=version["VersionId"])

    def _remember(self, subdomain: str, credentials: Credentials, now: float) -> None:
        valid_until = now + CACHE_SECONDS
        tokens = credentials.tokens
        if tokens is not None and tokens.access_expires_at is not None:
            valid_until = min(valid_until, tokens.access_expires_at - EXPIRY_LEEWAY)
        with self._lock:
            self._cache[subdomain] = (valid_until, credentials)



NEGATIVE_CACHE_SECONDS = 60
NEGATIVE_CACHE_SIZE = 1024


class SigningSecretStore:
    """Webhook signing secrets, apart from the tokens: one secret per account, `<WEBHOOK_SECRET_PREFIX><subdomain>`,
    holding {"<webhook id>": "<signing secret>"} (an account may have a trigger-connected and an event-subscribed
    webhook, each with its own secret). The internet-facing receiver may read these and nothing else.

    Unknown accounts are remembered for NEGATIVE_CACHE_SECONDS, so junk for one costs a single read. Only
    Secrets Manager's ResourceNotFound is remembered (never a throttle or an outage), at most NEGATIVE_CACHE_SIZE
    of them (the oldest is forgotten first), and briefly: an account connected by another process meanwhile is
    refused for at most that long (deliveries refused then are picked up by the maintenance run's sweep).
    """

    def __init__(self, prefix: str, secretsmanager: Any, clock: Callable[[], float] = time.time) -> None:
        self._prefix = prefix
        self._sm = secretsmanager
        self._clock = clock
        self._cache: dict[str, tuple[float, dict[str, str]]] = {}  # subdomain -> (read at, secrets)
        self._unknown: OrderedDict[str, float] = OrderedDict()  # subdomain -> remembered until
        self._lock = threading.Lock()

    def secret_name(self, subdomain: str) -> str:
        return f"{self._prefix}{subdomain}"

    def load(self, subdomain: str, *, max_age: float = CACHE_SECONDS) -> dict[str, str]:
        """The account's signing secrets by webhook id, read again once the cached copy is `max_age` old.

        Raises AccountNotFoundError when the account has none (remembered, see the class docstring).
        """
        now = self._clock()
        with self._lock:
            cached = self._cache.get(subdomain)
            unknown_until = self._unknown.get(subdomain)
        if cached and now - cached[0] < max_age:
            return dict(cached[1])
        if unknown_until is not None and now < unknown_until:
            raise AccountNotFoundError(f"no signing secret is stored for {subdomain!r}")
        secrets = self._read(subdomain)
        if secrets is None:
            self._remember_unknown(subdomain, now)
            raise AccountNotFoundError(f"no signing secret is stored for {subdomain!r}")
        with self._lock:
            self._cache[subdomain] = (now, secrets)
            self._unknown.pop(subdomain, None)
        return dict(secrets)

    def save(self, subdomain: str, webhook_id: str, signing_secret: str) -> None:
        """Store one webhook's signing secret, keeping the account's others (creating the secret on first use)."""
        self.replace(subdomain, {**(self._read(subdomain) or {}), webhook_id: signing_secret})

    def replace(self, subdomain: str, secrets: dict[str, str]) -> None:
        """Store exactly these signing secrets (a connect: the webhooks it kept), so the secrets of webhooks
        deleted since are no longer accepted."""
        name = self.secret_name(subdomain)
        value = json.dumps(secrets)
        try:
            try:
                self._sm.put_secret_value(SecretId=name, SecretString=value)
            except ClientError as exc:
                if _code(exc) != "ResourceNotFoundException":
                    raise
                self._create(subdomain, value)
        except (ClientError, BotoCoreError) as exc:
            raise storage_error(exc, "saving the webhook's signing secret") from exc
        with self._lock:
            self._cache[subdomain] = (self._clock(), secrets)
            self._unknown.pop(subdomain, None)

    def _create(self, subdomain: str, value: str) -> None:
        name = self.secret_name(subdomain)
        try:
            self._sm.create_secret(
                Name=name, SecretString=value,
                Description=f"Round Robin for Zendesk: webhook signing secrets of {subdomain}",
                Tags=[{"Key": "round-robin:subdomain", "Value": subdomain}],
            )
        except ClientError as exc:
            if _code(exc) != "ResourceExistsException":
                raise
            self._sm.put_secret_value(SecretId=name, SecretString=value)  # created by another process meanwhile

    def _read(self, subdomain: str) -> dict[str, str] | None:
        try:
            answer = self._sm.get_secret_value(SecretId=self.secret_name(subdomain))
        except ClientError as exc:
            if _code(exc) == "ResourceNotFoundException":
                return None
            raise storage_error(exc, "reading the webhook's signing secret") from exc
        except BotoCoreError as exc:
            raise storage_error(exc, "reading the webhook's signing secret") from exc
        return {str(k): str(v) for k, v in json.loads(answer["SecretString"]).items()}

    def _remember_unknown(self, subdomain: str, now: float) -> None:
        with self._lock:
            self._unknown.pop(subdomain, None)
            self._unknown[subdomain] = now + NEGATIVE_CACHE_SECONDS
            while len(self._unknown) > NEGATIVE_CACHE_SIZE:
                self._unknown.popitem(last=False)


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))
