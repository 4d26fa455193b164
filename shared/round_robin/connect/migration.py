"""Moving an account from an API token to OAuth without a browser (the "automated" migration).

With the stored API token (Basic auth, admin): find the service's OAuth client in the account (by its
identifier) or create one, create an OAuth token for it through the OAuth Tokens API, check the token works
for an admin, then store it in place of the API token (whose old secret version is dropped) and switch the
account to OAuth. Safe to re-run: an account already on OAuth is left as it is.

Zendesk's Create Token API issues an access token without refresh token which, its doc says, does not expire
("Refresh tokens aren't used. An access token doesn't expire but it can be revoked.", developer.zendesk.com/
api-reference/ticketing/oauth/oauth_tokens/). Its real expiry is read from the token itself (tokens/current.json)
all the same: if it has one, the schedule warns the operators before it (maintenance.py), `round-robin
accounts` shows the deadline, and an admin moves the account to a rotating pair by opening the connect link.

A migration holds the account's connect lease like a connect (lease.py): one racing a connect would otherwise
store its token over the connect's grant, or the connect its grant over the migrated account.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime

from round_robin.accounts.credentials import TokenSet
from round_robin.accounts.registry import AccountRegistry
from round_robin.accounts.vault import TokenVault
from round_robin.connect.lease import ConnectLease
from round_robin.errors import NotAdminError, RoundRobinError, ZendeskError, ZendeskUnprocessableError
from round_robin.observability import logger
from round_robin.zendesk import users
from round_robin.zendesk.client import ZendeskClient, ZendeskFactory
from round_robin.zendesk.oauth import SCOPES, current_token

CLIENT_NAME = "Round Robin for Zendesk"


@dataclass(frozen=True)
class MigrationReport:
    subdomain: str
    changed: bool
    detail: str
    oauth_client: str | None = None
    client_created: bool = False
    token_id: int | None = None
    token_expires_at: str | None = None  # when the migrated token dies (it has no refresh token); None: never

    def as_dict(self) -> dict:
        return asdict(self)


class Migrator:
    def __init__(self, *, vault: TokenVault, registry: AccountRegistry,
                 zendesk: ZendeskFactory, lease: ConnectLease, client_identifier: str,
                 clock: Callable[[], float] = time.time) -> None:
        self._vault = vault
        self._registry = registry
        self._zendesk = zendesk
        self._lease = lease
        self._identifier = client_identifier
        self._clock = clock

    def migrate(self, subdomain: str) -> MigrationReport:
        """Switch an API-token account to OAuth (see the module docstring); idempotent. Under the account's
        connect lease (lease.py), so that a connect cannot store other credentials or hooks meanwhile."""
        with self._lease.hold(subdomain):
            return self._migrate(subdomain)

    def _migrate(self, subdomain: str) -> MigrationReport:
        account = self._registry.get(subdomain)
        if account is None:
            raise RoundRobinError(f"{subdomain} is not registered")
        credentials = self._vault.load(subdomain, fresh=True)
        if credentials.auth_method == "oauth":
            return MigrationReport(subdomain, False, "already uses OAuth; nothing to do")
        basic = self._zendesk(subdomain, credentials.authorization)
        client, created = self._oauth_client(basic, subdomain)
        answer = basic.post("/api/v2/oauth/tokens.json", {"token": {"client_id": client["id"], "scopes": list(SCOPES)}})
        token = answer["token"]
        bearer_value = token["full_token"]
        tokens = TokenSet(
            access_token=bearer_value, refresh_token=token.get("refresh_token") or None, access_expires_at=None,
            refresh_expires_at=None, scope=" ".join(token.get("scopes") or SCOPES), issued_at=self._clock(),
        )
        bearer = self._zendesk(subdomain, lambda: f"Bearer {bearer_value}")
        try:
            me = users.me(bearer)
            if me.get("role") != "admin":
                raise NotAdminError(str(me.get("name") or ""), str(me.get("role")))
            tokens = tokens.with_zendesk_expiry(current_token(bearer)).with_zendesk_expiry(token)
            self._vault.save(subdomain, replace(credentials, auth_method="oauth", tokens=tokens, api_email=None,
                                                api_token=None), forget_previous=True)
        except RoundRobinError:
            try:
                basic.delete(f"/api/v2/oauth/tokens/{token['id']}.json")  # do not leave an unused token behind
            except ZendeskError:
                logger.warning("could not revoke the unused migration token", subdomain=subdomain)
            raise
        self._registry.save(replace(account, auth_method="oauth", updated_at=int(self._clock())))
        expires_at = _iso(tokens.access_expires_at)
        logger.info("account migrated to OAuth", subdomain=subdomain, oauth_client=client["identifier"],
                    client_created=created, token_id=token["id"], token_expires_at=expires_at)
        detail = "switched from the API token to an OAuth token" + (
            f" that expires at {expires_at}: open the connect link before then" if expires_at else "")
        return MigrationReport(subdomain, True, detail, client["identifier"], created, token["id"], expires_at)

    def _oauth_client(self, client: ZendeskClient, subdomain: str) -> tuple[dict, bool]:
        """The service's OAuth client in this account, created if the account has none."""
        local_identifier = f"{self._identifier}-{subdomain}"
        for existing in client.paginate("/api/v2/oauth/clients.json", "clients"):
            if existing.get("identifier") in (self._identifier, local_identifier):
                return existing, False
        spec = {"name": CLIENT_NAME, "identifier": self._identifier, "kind": "confidential"}
        try:
            return client.post("/api/v2/oauth/clients.json", {"client": spec})["client"], True
        except ZendeskUnprocessableError:  # the identifier is taken elsewhere (a global client): use a local one
            spec["identifier"] = local_identifier
            return client.post("/api/v2/oauth/clients.json", {"client": spec})["client"], True


def _iso(epoch: float | None) -> str | None:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if epoch else None
