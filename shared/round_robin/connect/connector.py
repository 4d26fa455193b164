"""Connecting a Zendesk account with OAuth: the authorize link, and the callback's state check and code exchange.

The callback takes the account's connect lease (lease.py) before it exchanges the code, then hands the grant to
connections.py, which does every Zendesk read and its own webhook/trigger upkeep first and writes to AWS last, so
that a failure part-way leaves nothing half-stored on our side.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from round_robin.accounts.credentials import Credentials
from round_robin.accounts.registry import CONNECTED, Account, AccountRegistry
from round_robin.connect.connections import ConnectionReport, Connections
from round_robin.connect.lease import ConnectInProgressError, ConnectLease
from round_robin.connect.pkce import authorize_url, code_challenge, code_verifier_for
from round_robin.connect.states import PendingAuthorization, StateStore
from round_robin.errors import StateReplayedError
from round_robin.settings import Settings
from round_robin.zendesk.client import ZendeskFactory
from round_robin.zendesk.oauth import OAuthClient
from round_robin.zendesk.subdomain import normalize_subdomain


class Connector:
    def __init__(
        self,
        *,
        settings: Settings,
        states: StateStore,
        state_key: bytes,
        oauth: OAuthClient,
        zendesk: ZendeskFactory,
        lease: ConnectLease,
        connections: Connections,
        registry: AccountRegistry,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._settings = settings
        self._states = states
        self._state_key = state_key
        self._oauth = oauth
        self._zendesk = zendesk
        self._lease = lease
        self._connections = connections
        self._registry = registry
        self._clock = clock

    def __repr__(self) -> str:
        return "Connector()"

    def authorization_url(self, raw_subdomain: str | None, redirect_uri: str) -> str:
        """Validate the subdomain, store a single-use state, and return the account's authorize URL."""
        subdomain = normalize_subdomain(raw_subdomain)
        state = self._states.create(subdomain, self._clock())
        return authorize_url(
            self._settings.zendesk_base_url(subdomain),
            client_id=self._settings.client_id,
            redirect_uri=redirect_uri,
            state=state,
            challenge=code_challenge(code_verifier_for(state, self._state_key)),
        )

    def cancel(self, state: str | None) -> str:
        """Consent was denied: spend the state so the link cannot be replayed; return the subdomain."""
        return self.spend(state).subdomain

    def spend(self, state: str | None) -> PendingAuthorization:
        """Spend the callback's state and return what it stands for (a connect or a console sign-in)."""
        return self._states.consume(state, self._clock())

    def after_replay(self, replay: StateReplayedError) -> Account | None:
        """The same approval arrived twice: wait for the first connect (the account's connect lease) and return the
        account if that connect completed, else None (it failed, or is still running after the wait)."""
        try:
            with self._lease.hold(replay.subdomain):
                pass
        except ConnectInProgressError:
            return None
        account = self._registry.get(replay.subdomain)
        if account is None or account.status != CONNECTED or account.connected_at < int(replay.used_at):
            return None
        return account

    def complete(self, *, state: str | None, code: str, redirect_uri: str, webhook_base_url: str,
                 pending: PendingAuthorization | None = None) -> ConnectionReport:
        """Finish the connection started by `authorization_url` (see the module docstring for the order);
        `pending`: the state already spent by `spend`."""
        pending = pending or self._states.consume(state, self._clock())
        assert state is not None
        subdomain = pending.subdomain
        # The lease is taken before the code is exchanged. The code stays valid for 120 s and the wait is at most
        # CONNECT_WAIT_SECONDS, so waiting first cannot lose it; and a callback refused with 409 then never
        # turns its code into a grant, which the service could not revoke (see pages.UNUSED_GRANT).
        with self._lease.hold(subdomain):
            tokens = self._oauth.exchange_code(
                subdomain, code=code, code_verifier=code_verifier_for(state, self._state_key), redirect_uri=redirect_uri
            )
            client = self._zendesk(subdomain, lambda: f"Bearer {tokens.access_token}")
            # A grant that is not kept (non-admin, a failure below) is not revoked: Zendesk lets only a token with
            # the broad `write` scope revoke tokens (community post 4627188332186), and the service asks for less.
            # It is never stored and lapses with its lifetime; an admin can revoke it in Admin Center (pages.py).
            return self._connections.connect(subdomain, client, Credentials("oauth", tokens), webhook_base_url)
