"""Connecting a Zendesk account: the authorize link, and the callback's whole job.

The callback does every Zendesk read and its own webhook/trigger upkeep first, and writes to AWS last
(tokens, then the webhook's signing secret, then account, then rosters), so a failure part-way leaves
nothing half-stored on our side.

One connect at a time per account (the `LEASE#connect` lease; a double-click on Allow, or two admins): the
second waits for the first, then finds what the first made and goes on idempotently; if it cannot get the
lease in time it stops with ConnectInProgressError (409) and keeps nothing. Webhooks and triggers that a
failure left in Zendesk are adopted by the next connect, and copies of them deleted (zendesk/hooks.py).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from round_robin.accounts.credentials import Credentials
from round_robin.accounts.registry import CONNECTED, Account, AccountRegistry
from round_robin.accounts.vault import SigningSecretStore, TokenVault
from round_robin.assignment.claims import PARKED, AssignmentStore
from round_robin.assignment.roster_import import import_rosters
from round_robin.assignment.rosters import RosterStore
from round_robin.assignment.rotation import Roster
from round_robin.aws.leases import Lease, LeaseBusyError, LeaseStore
from round_robin.aws.queue import AssignmentQueue, AssignmentRequest
from round_robin.connect.pkce import authorize_url, code_challenge, code_verifier_for
from round_robin.connect.states import StateStore
from round_robin.errors import NotAdminError, RoundRobinError
from round_robin.observability import logger
from round_robin.settings import Settings
from round_robin.table import account_pk
from round_robin.zendesk import users
from round_robin.zendesk.client import ZendeskClient, ZendeskFactory
from round_robin.zendesk.hooks import ensure_hooks
from round_robin.zendesk.oauth import OAuthClient, current_token
from round_robin.zendesk.subdomain import normalize_subdomain

# The callback's timeout is 29 s (API Gateway's limit): a lease of 30 s never expires under a running callback,
# and one left by a crashed callback frees itself within half a minute.
CONNECT_LEASE_SECONDS = 30.0
# How long a second callback waits for the first: a connect takes a few seconds, and the waiting one must still
# do its own connect within its 29 s.
CONNECT_WAIT_SECONDS = 10.0


@dataclass(frozen=True)
class ConnectionReport:
    """What a successful connection did, for the confirmation page and the logs."""

    subdomain: str
    user_name: str
    reconnected: bool
    previous_auth_method: str | None
    rosters: list[Roster]
    webhook_action: str
    trigger_action: str
    auth_method: str = "oauth"
    requeued: int = 0  # parked tickets sent back to the queue


class AlreadyOnOAuthError(RoundRobinError):
    """The account already uses OAuth: registering an API token would be a step back."""

    def __init__(self, subdomain: str) -> None:
        super().__init__(f"{subdomain} already uses OAuth; an API token is not needed")
        self.subdomain = subdomain


class ConnectInProgressError(RoundRobinError):
    """Another connect of the account held the lease for longer than this one could wait."""

    def __init__(self, subdomain: str) -> None:
        super().__init__(f"a connection of {subdomain} is already in progress; "
                         "open the connect link again in a minute")
        self.subdomain = subdomain


class Connector:
    def __init__(
        self,
        *,
        settings: Settings,
        states: StateStore,
        vault: TokenVault,
        signing_secrets: SigningSecretStore,
        registry: AccountRegistry,
        rosters: RosterStore,
        oauth: OAuthClient,
        zendesk: ZendeskFactory,
        state_key: bytes,
        leases: LeaseStore,
        assignments: AssignmentStore | None = None,
        queue: AssignmentQueue | None = None,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._settings = settings
        self._states = states
        self._vault = vault
        self._signing_secrets = signing_secrets
        self._registry = registry
        self._rosters = rosters
        self._oauth = oauth
        self._zendesk = zendesk
        self._state_key = state_key
        self._assignments = assignments
        self._queue = queue
        self._leases = leases
        self._clock = clock
        self._sleep = sleep

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
        return self._states.consume(state, self._clock()).subdomain

    def complete(self, *, state: str | None, code: str, redirect_uri: str, webhook_base_url: str) -> ConnectionReport:
        """Finish the connection started by `authorization_url` (see the module docstring for the order)."""
        pending = self._states.consume(state, self._clock())
        assert state is not None
        subdomain = pending.subdomain
        # The lease is taken before the code is exchanged. The code stays valid for 120 s and the wait is at most
        # CONNECT_WAIT_SECONDS, so waiting first cannot lose it; and a callback refused with 409 then never
        # turns its code into a grant, which the service could not revoke (see pages.UNUSED_GRANT).
        with self._one_connect_at_a_time(subdomain):
            tokens = self._oauth.exchange_code(
                subdomain, code=code, code_verifier=code_verifier_for(state, self._state_key), redirect_uri=redirect_uri
            )
            client = self._zendesk(subdomain, lambda: f"Bearer {tokens.access_token}")
            # A grant that is not kept (non-admin, a failure below) is not revoked: Zendesk lets only a token with
            # the broad `write` scope revoke tokens (community post 4627188332186), and the service asks for less.
            # It is never stored and lapses with its lifetime; an admin can revoke it in Admin Center (pages.py).
            return self._persist(self._prepare(subdomain, client, Credentials("oauth", tokens), webhook_base_url))

    def connect_with_api_token(self, raw_subdomain: str | None, *, email: str, api_token: str,
                               webhook_base_url: str) -> ConnectionReport:
        """Register an account that still uses an API token (email + token, Basic auth); it then works for
        assignment like an OAuth account until it migrates. Refused for an account already on OAuth."""
        subdomain = normalize_subdomain(raw_subdomain)
        with self._one_connect_at_a_time(subdomain):
            previous = self._registry.get(subdomain)
            if previous is not None and previous.auth_method == "oauth":
                raise AlreadyOnOAuthError(subdomain)
            credentials = Credentials("api_token", api_email=email, api_token=api_token)
            client = self._zendesk(subdomain, credentials.authorization)
            return self._persist(self._prepare(subdomain, client, credentials, webhook_base_url))

    def _one_connect_at_a_time(self, subdomain: str) -> Lease:
        """The account's connect lease, for the whole connect (see the module docstring)."""
        try:
            return self._leases.hold(account_pk(subdomain), "connect", seconds=CONNECT_LEASE_SECONDS,
                                     wait=CONNECT_WAIT_SECONDS, clock=self._clock, sleep=self._sleep)
        except LeaseBusyError:
            logger.warning("connect already in progress", subdomain=subdomain)
            raise ConnectInProgressError(subdomain) from None

    def _prepare(self, subdomain: str, client: ZendeskClient, credentials: Credentials,
                 webhook_base_url: str) -> _Setup:
        """Everything on the Zendesk side: the admin check, expiry times, the import, the webhook, the trigger."""
        me = users.me(client)
        if me.get("role") != "admin":
            raise NotAdminError(str(me.get("name") or ""), str(me.get("role") or "unknown"))
        tokens = credentials.tokens
        if tokens is not None and (tokens.access_expires_at is None or tokens.refresh_expires_at is None):
            # Zendesk's authoritative expiry times
            credentials = replace(credentials, tokens=tokens.with_zendesk_expiry(current_token(client)))
        previous = self._registry.get(subdomain)
        imported = import_rosters(client, previous.excluded_agent_ids if previous else ())
        endpoint = f"{webhook_base_url}/webhooks/zendesk/{subdomain}"
        hooks = ensure_hooks(client, endpoint, previous.webhook_id if previous else None,
                             previous.trigger_id if previous else None)
        return _Setup(subdomain, credentials, me, imported, previous, hooks.webhook_id, hooks.signing_secret,
                      hooks.webhook_action, hooks.trigger_id, hooks.trigger_action)

    def _persist(self, setup: _Setup) -> ConnectionReport:
        """Our side, secrets first so that the registry never points at missing credentials.

        The signing secret goes to its own store (the webhook receiver reads only that), not with the tokens.
        """
        subdomain, me, previous = setup.subdomain, setup.me, setup.previous
        now = int(self._clock())
        credentials = replace(setup.credentials, connected_user_id=me["id"], webhook_id=setup.webhook_id,
                              webhook_secret=None)
        # A reconnect also drops the secret's previous version: it holds the replaced grant (still valid in Zendesk
        # until it lapses, as the service cannot revoke it) or, for a migration, the API token.
        self._vault.save(subdomain, credentials, forget_previous=previous is not None)
        self._signing_secrets.save(subdomain, setup.webhook_id, setup.signing_secret)
        self._registry.save(
            Account(
                subdomain=subdomain, status=CONNECTED, auth_method=credentials.auth_method,
                connected_user_id=me["id"],
                connected_user_name=me.get("name"), connected_at=now, updated_at=now,
                webhook_id=setup.webhook_id, trigger_id=setup.trigger_id,
            )
        )
        stored = self._rosters.sync(subdomain, setup.imported, now)
        requeued = self._requeue_parked(subdomain)
        report = ConnectionReport(
            subdomain=subdomain,
            user_name=str(me.get("name") or me["id"]),
            reconnected=previous is not None,
            previous_auth_method=previous.auth_method if previous else None,
            rosters=stored,
            webhook_action=setup.webhook_action,
            trigger_action=setup.trigger_action,
            auth_method=credentials.auth_method,
            requeued=requeued,
        )
        logger.info(
            "account connected", subdomain=subdomain, connected_user_id=me["id"], reconnected=report.reconnected,
            auth_method=credentials.auth_method, requeued_parked_tickets=requeued,
            groups=len(stored) - 1, agents=len(stored[-1].members), webhook=setup.webhook_action,
            trigger=setup.trigger_action,
        )
        return report


    def _requeue_parked(self, subdomain: str) -> int:
        """Tickets parked while the connection was broken go back to the queue."""
        if self._assignments is None or self._queue is None:
            return 0
        now = self._clock()
        requeued = 0
        for record in self._assignments.indexed(subdomain, PARKED, newest_first=False):
            ticket_id = int(record["ticket_id"])
            if self._assignments.reopen(subdomain, ticket_id, now):
                self._queue.send(AssignmentRequest(subdomain=subdomain, ticket_id=ticket_id, source="reconnect",
                                                   received_at=now))
                requeued += 1
        return requeued


@dataclass(frozen=True)
class _Setup:
    subdomain: str
    credentials: Credentials
    me: dict[str, Any]
    imported: list[Roster]
    previous: Account | None
    webhook_id: str
    signing_secret: str = field(repr=False)
    webhook_action: str = ""
    trigger_id: str = ""
    trigger_action: str = ""
