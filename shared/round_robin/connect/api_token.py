"""Registering an account that still uses an API token (email + token, Basic auth): it then works for
assignment like an OAuth account until it migrates (migration.py). Refused for an account already on OAuth."""

from __future__ import annotations

from round_robin.accounts.credentials import Credentials
from round_robin.accounts.registry import AccountRegistry
from round_robin.connect.connections import ConnectionReport, Connections
from round_robin.connect.lease import ConnectLease
from round_robin.errors import RoundRobinError
from round_robin.zendesk.client import ZendeskFactory
from round_robin.zendesk.subdomain import normalize_subdomain


class AlreadyOnOAuthError(RoundRobinError):
    """The account already uses OAuth: registering an API token would be a step back."""

    def __init__(self, subdomain: str) -> None:
        super().__init__(f"{subdomain} already uses OAuth; an API token is not needed")
        self.subdomain = subdomain


class ApiTokenRegistration:
    def __init__(self, *, registry: AccountRegistry, zendesk: ZendeskFactory, lease: ConnectLease,
                 connections: Connections) -> None:
        self._registry = registry
        self._zendesk = zendesk
        self._lease = lease
        self._connections = connections

    def __repr__(self) -> str:
        return "ApiTokenRegistration()"

    def register(self, raw_subdomain: str | None, *, email: str, api_token: str,
                 webhook_base_url: str) -> ConnectionReport:
        """Connect the account with its API token, under the connect lease (lease.py)."""
        subdomain = normalize_subdomain(raw_subdomain)
        with self._lease.hold(subdomain):
            previous = self._registry.get(subdomain)
            if previous is not None and previous.auth_method == "oauth":
                raise AlreadyOnOAuthError(subdomain)
            credentials = Credentials("api_token", api_email=email, api_token=api_token)
            client = self._zendesk(subdomain, credentials.authorization)
            return self._connections.connect(subdomain, client, credentials, webhook_base_url)
