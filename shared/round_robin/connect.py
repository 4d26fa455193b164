"""Connecting a Zendesk account: the authorize link, and the callback's whole job.

The callback does every Zendesk read and its own webhook/trigger upkeep first, and writes to AWS last
(secret, then account, then rosters), so a failure part-way leaves nothing half-stored on our side.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from round_robin.errors import NotAdminError, RoundRobinError, ZendeskError
from round_robin.oauth import OAuthClient, TokenSet, authorize_url, code_challenge, code_verifier_for
from round_robin.oauth_state import StateStore
from round_robin.observability import logger
from round_robin.registry import CONNECTED, Account, AccountRegistry
from round_robin.roster_import import import_rosters
from round_robin.rosters import Roster, RosterStore
from round_robin.settings import Settings
from round_robin.subdomain import normalize_subdomain
from round_robin.vault import Credentials, TokenVault
from round_robin.zendesk import ZendeskClient
from round_robin.zendesk_hooks import ensure_trigger, ensure_webhook

ZendeskFactory = Callable[[str, Callable[[], str]], ZendeskClient]


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


class Connector:
    def __init__(
        self,
        *,
        settings: Settings,
        states: StateStore,
        vault: TokenVault,
        registry: AccountRegistry,
        rosters: RosterStore,
        oauth: OAuthClient,
        zendesk: ZendeskFactory,
        state_key: bytes,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._settings = settings
        self._states = states
        self._vault = vault
        self._registry = registry
        self._rosters = rosters
        self._oauth = oauth
        self._zendesk = zendesk
        self._state_key = state_key
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
        return self._states.consume(state, self._clock()).subdomain

    def complete(self, *, state: str | None, code: str, redirect_uri: str, webhook_base_url: str) -> ConnectionReport:
        """Finish the connection started by `authorization_url` (see the module docstring for the order)."""
        pending = self._states.consume(state, self._clock())
        assert state is not None
        subdomain = pending.subdomain
        tokens = self._oauth.exchange_code(
            subdomain, code=code, code_verifier=code_verifier_for(state, self._state_key), redirect_uri=redirect_uri
        )
        client = self._zendesk(subdomain, lambda: f"Bearer {tokens.access_token}")
        try:
            me = client.me()
            if me.get("role") != "admin":
                raise NotAdminError(str(me.get("name") or ""), str(me.get("role") or "unknown"))
            setup = self._prepare(subdomain, client, tokens, me, webhook_base_url)
        except RoundRobinError:
            _revoke_quietly(client, subdomain)
            raise
        return self._persist(setup)

    def _prepare(
        self, subdomain: str, client: ZendeskClient, tokens: TokenSet, me: dict[str, Any], webhook_base_url: str
    ) -> _Setup:
        """Everything on the Zendesk side: expiry times, the import, the webhook and the trigger."""
        if tokens.access_expires_at is None or tokens.refresh_expires_at is None:
            current = client.current_token()  # Zendesk's authoritative expiry times
            tokens = tokens.with_expiry(
                _epoch(current.get("expires_at")), _epoch(current.get("refresh_token_expires_at"))
            )
        previous = self._registry.get(subdomain)
        imported = import_rosters(client, previous.excluded_agent_ids if previous else ())
        endpoint = f"{webhook_base_url}/webhooks/zendesk/{subdomain}"
        webhook_id, signing_secret, webhook_action = ensure_webhook(
            client, endpoint, previous.webhook_id if previous else None
        )
        trigger_id, trigger_action = ensure_trigger(client, webhook_id, previous.trigger_id if previous else None)
        return _Setup(subdomain, tokens, me, imported, previous, webhook_id, signing_secret, webhook_action,
                      trigger_id, trigger_action)

    def _persist(self, setup: _Setup) -> ConnectionReport:
        """Our side, secret first so that the registry never points at missing credentials."""
        subdomain, me = setup.subdomain, setup.me
        now = int(self._clock())
        self._vault.save(
            subdomain,
            Credentials(
                auth_method="oauth", tokens=setup.tokens, connected_user_id=me["id"],
                webhook_id=setup.webhook_id, webhook_secret=setup.signing_secret,
            ),
        )
        self._registry.save(
            Account(
                subdomain=subdomain, status=CONNECTED, auth_method="oauth", connected_user_id=me["id"],
                connected_user_name=me.get("name"), connected_at=now, updated_at=now,
                webhook_id=setup.webhook_id, trigger_id=setup.trigger_id,
            )
        )
        stored = self._rosters.sync(subdomain, setup.imported, now)
        previous = setup.previous
        report = ConnectionReport(
            subdomain=subdomain,
            user_name=str(me.get("name") or me["id"]),
            reconnected=previous is not None,
            previous_auth_method=previous.auth_method if previous else None,
            rosters=stored,
            webhook_action=setup.webhook_action,
            trigger_action=setup.trigger_action,
        )
        logger.info(
            "account connected", subdomain=subdomain, connected_user_id=me["id"], reconnected=report.reconnected,
            groups=len(stored) - 1, agents=len(stored[-1].members), webhook=setup.webhook_action,
            trigger=setup.trigger_action,
        )
        return report


@dataclass(frozen=True)
class _Setup:
    subdomain: str
    tokens: TokenSet
    me: dict[str, Any]
    imported: list[Roster]
    previous: Account | None
    webhook_id: str
    signing_secret: str = field(repr=False)
    webhook_action: str = ""
    trigger_id: str = ""
    trigger_action: str = ""


def _revoke_quietly(client: ZendeskClient, subdomain: str) -> None:
    """Best effort: a token we will not keep should not stay valid in Zendesk."""
    try:
        client.revoke_token(client.current_token()["id"])
    except (ZendeskError, KeyError) as exc:
        logger.warning("could not revoke the unused token", subdomain=subdomain, error=type(exc).__name__)


def _epoch(value: str | None) -> float | None:
    if not value:
        return None
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
