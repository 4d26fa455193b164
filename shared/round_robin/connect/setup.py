"""The Zendesk side of connecting an account, before anything is stored: the admin check, the token's expiry
times, the project's two webhooks and trigger (zendesk/hooks.py). The agent import is connections.py's (it may
outlive the request: assignment/import_job.py)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from round_robin.accounts.credentials import Credentials
from round_robin.accounts.registry import Account
from round_robin.errors import NotAdminError
from round_robin.zendesk import users
from round_robin.zendesk.client import ZendeskClient
from round_robin.zendesk.hooks import ensure_hooks
from round_robin.zendesk.oauth import current_token


@dataclass(frozen=True)
class Setup:
    """What the Zendesk side made, for connections.py to store."""

    subdomain: str
    credentials: Credentials
    me: dict[str, Any]
    previous: Account | None
    webhook_id: str
    signing_secret: str = field(repr=False)
    webhook_action: str = ""
    trigger_id: str = ""
    trigger_action: str = ""
    events_webhook_id: str = ""
    events_signing_secret: str = field(default="", repr=False)
    events_webhook_action: str = ""


def set_up(subdomain: str, client: ZendeskClient, credentials: Credentials, previous: Account | None,
           webhook_base_url: str) -> Setup:
    """Everything on the Zendesk side (NotAdminError for a non-admin); writes nothing of ours."""
    me = users.me(client)
    if me.get("role") != "admin":
        raise NotAdminError(str(me.get("name") or ""), str(me.get("role") or "unknown"))
    tokens = credentials.tokens
    if tokens is not None and (tokens.access_expires_at is None or tokens.refresh_expires_at is None):
        # Zendesk's authoritative expiry times
        credentials = replace(credentials, tokens=tokens.with_zendesk_expiry(current_token(client)))
    endpoint = f"{webhook_base_url}/webhooks/zendesk/{subdomain}"
    hooks = ensure_hooks(client, endpoint, previous.webhook_id if previous else None,
                         previous.trigger_id if previous else None, previous.events_webhook_id if previous else None)
    return Setup(subdomain, credentials, me, previous, hooks.webhook_id, hooks.signing_secret,
                 hooks.webhook_action, hooks.trigger_id, hooks.trigger_action, hooks.events_webhook_id,
                 hooks.events_signing_secret, hooks.events_webhook_action)
