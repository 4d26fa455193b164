"""Connecting a sandbox account without a browser, for tests and benchmarks: the sandbox grants its admin a token
(what consent and the code exchange make), and the service's own connect (Connections.connect) does the rest, so
the account is what a real connect makes: rosters imported, webhooks and trigger created, secrets stored."""

from __future__ import annotations

from typing import TYPE_CHECKING

from round_robin import wiring
from round_robin.accounts.credentials import Credentials, TokenSet
from round_robin.zendesk.oauth import SCOPES

if TYPE_CHECKING:
    from round_robin_local.sandbox.model import Account, Sandbox
    from round_robin_local.stack import LocalStack


def connect_granted(sandbox: Sandbox, account: Account, admin_id: int, public_base_url: str) -> None:
    """Connect `account` with a grant the sandbox issues to `admin_id` (with the service's configured lifetimes)."""
    settings = wiring.get_settings()
    with sandbox.lock:
        token = sandbox.issue_token(account, settings.client_id, admin_id, list(SCOPES),
                                    expires_in=settings.access_token_lifetime,
                                    refresh_expires_in=settings.refresh_token_lifetime)
    tokens = TokenSet(access_token=token.access_token, refresh_token=token.refresh_token,
                      access_expires_at=token.expires_at, refresh_expires_at=token.refresh_expires_at,
                      scope=" ".join(token.scopes), issued_at=token.created_at)
    client = wiring.connect_zendesk_factory(settings)(account.subdomain, lambda: f"Bearer {tokens.access_token}")
    wiring.connections().connect(account.subdomain, client, Credentials("oauth", tokens), public_base_url)


def connect_new_account(stack: LocalStack, subdomain: str, admin_name: str = "Ada Admin") -> int:
    """Create `subdomain` in the stack's sandbox (its demo people) and connect it as `admin_name`; the admin's id."""
    assert stack.sandbox is not None
    sandbox = stack.sandbox.sandbox
    with sandbox.lock:
        account = sandbox.create_account(subdomain)
        admin = next(u for u in account.users.values() if u["name"] == admin_name)
    connect_granted(sandbox, account, admin["id"], stack.public_base_url)
    return int(admin["id"])
