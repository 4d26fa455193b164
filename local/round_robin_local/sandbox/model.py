"""The Zendesk sandbox's in-memory state: accounts with users, groups, memberships, tickets, webhooks,
triggers, OAuth clients and tokens, rate-limit windows and injected faults (their rules: limits.py), agent
statuses (agent_statuses.py), user fields (user_fields.py) and business-hours schedules (schedules.py).

Everything is guarded by one lock; the sandbox is a development and test tool, never deployed.
"""

from __future__ import annotations

import itertools
import secrets
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from round_robin_local.sandbox.limits import ACCOUNT_RATE_LIMIT, TICKET_UPDATE_RATE_LIMIT, Fault, RateWindow

DEFAULT_CLIENT_ID = "round-robin-local"
DEFAULT_CLIENT_SECRET = "sandbox-client-secret-not-for-production"  # the sandbox's built-in default

ACCESS_TOKEN_LIFETIME = 30 * 60  # Zendesk default since Feb 2, 2026
ACCESS_TOKEN_RANGE = (5 * 60, 48 * 3600)
REFRESH_TOKEN_LIFETIME = 30 * 86400
REFRESH_TOKEN_RANGE = (7 * 86400, 90 * 86400)
CODE_LIFETIME = 120

# `role_type` of a user (developer.zendesk.com/api-reference/ticketing/users/users/#json-format): "0 for a custom
# agent, 1 for a light agent, 2 for a chat agent, 3 for a chat agent added to the Support account as a contributor
# (Chat Phase 4), 4 for an admin, and 5 for a billing admin"; null for a plain agent. Light agents, chat-only agents
# and contributors keep role "agent" but cannot be assigned tickets (Zendesk answers 422).
LIGHT_AGENT, CHAT_AGENT, CONTRIBUTOR, ADMIN_ROLE_TYPE = 1, 2, 3, 4
CANNOT_TAKE_TICKETS = {LIGHT_AGENT, CHAT_AGENT, CONTRIBUTOR}

TICKET_STATUSES = ["new", "open", "pending", "hold", "solved", "closed"]  # in order ("status<solved")

# The custom roles of an Enterprise account (a light agent is a custom role whose role_type is 1: Zendesk staff,
# support.zendesk.com/hc/en-us/community/posts/4766387955354); Enterprise admins carry one too.
CUSTOM_ROLES = [("Staff", 0), ("Light agent", LIGHT_AGENT), ("Contributor", CONTRIBUTOR),
                ("Administrator", ADMIN_ROLE_TYPE)]
DEFAULT_TIME_ZONE = ("Eastern Time (US & Canada)", "America/New_York")  # (time_zone, iana_time_zone)


class Clock:
    """Real time plus an offset that tests can advance (token expiry, code expiry, rate windows)."""

    def __init__(self) -> None:
        self.offset = 0.0

    def now(self) -> float:
        return time.time() + self.offset

    def iso(self, at: float | None = None) -> str:
        return datetime.fromtimestamp(self.now() if at is None else at, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class OAuthClientRecord:
    id: int
    identifier: str
    secret: str
    name: str
    kind: str = "confidential"
    redirect_uris: list[str] = field(default_factory=list)  # empty: any loopback URL


@dataclass
class AuthCode:
    code: str
    client: str
    user_id: int
    redirect_uri: str
    scopes: list[str]
    challenge: str | None
    challenge_method: str | None
    expires_at: float


@dataclass
class Token:
    id: int
    access_token: str
    refresh_token: str | None
    client: str
    user_id: int
    scopes: list[str]
    created_at: float
    expires_at: float | None
    refresh_expires_at: float | None


@dataclass
class Account:
    subdomain: str
    id: int
    users: dict[int, dict[str, Any]] = field(default_factory=dict)
    groups: dict[int, dict[str, Any]] = field(default_factory=dict)
    memberships: dict[int, dict[str, Any]] = field(default_factory=dict)
    tickets: dict[int, dict[str, Any]] = field(default_factory=dict)
    webhooks: dict[str, dict[str, Any]] = field(default_factory=dict)
    webhook_secrets: dict[str, str] = field(default_factory=dict)
    triggers: dict[int, dict[str, Any]] = field(default_factory=dict)
    clients: dict[str, OAuthClientRecord] = field(default_factory=dict)
    codes: dict[str, AuthCode] = field(default_factory=dict)
    tokens: dict[str, Token] = field(default_factory=dict)  # by access token
    refresh_tokens: dict[str, Token] = field(default_factory=dict)  # by refresh token
    api_tokens: dict[str, int] = field(default_factory=dict)  # API token -> user id
    jobs: dict[str, dict[str, Any]] = field(default_factory=dict)
    faults: list[Fault] = field(default_factory=list)
    delivery_faults: dict[str, int] = field(default_factory=lambda: {"drop": 0, "duplicate": 0})
    deliveries: list[dict[str, Any]] = field(default_factory=list)
    signed_in_user_id: int | None = None
    access_token_lifetime: int | None = None  # when the token request names none (tests: short-lived tokens)
    created_token_lifetime: int | None = None  # tokens of the OAuth Tokens API: None = never expire (its doc)
    search_lag: float = 0.0
    account_window: RateWindow = field(default_factory=lambda: RateWindow(ACCOUNT_RATE_LIMIT))
    update_window: RateWindow = field(default_factory=lambda: RateWindow(TICKET_UPDATE_RATE_LIMIT))
    custom_roles: dict[int, dict[str, Any]] = field(default_factory=dict)
    user_fields: dict[int, dict[str, Any]] = field(default_factory=dict)  # user field definitions
    custom_agent_statuses: dict[int, dict[str, Any]] = field(default_factory=dict)
    availability: dict[int, dict[str, Any]] = field(default_factory=dict)  # agent id -> unified status
    schedules: dict[int, dict[str, Any]] = field(default_factory=dict)  # with their holidays
    request_log: list[dict[str, Any]] = field(default_factory=list)
    token_log: list[dict[str, Any]] = field(default_factory=list)  # token endpoint requests, without secrets

    def eligible_assignee(self, user_id: int) -> bool:
        """Whether the user can be assigned tickets: an active, unsuspended agent or admin whose role can take
        them (not a light agent, chat-only agent or contributor)."""
        user = self.users.get(user_id)
        return bool(user and user["role"] in ("agent", "admin") and user["active"] and not user["suspended"]
                    and user.get("role_type") not in CANNOT_TAKE_TICKETS)

    def assignable_memberships(self, group_id: int | None = None) -> list[dict[str, Any]]:
        """The memberships whose agent can be assigned tickets (of one group, or of all groups)."""
        return [m for m in self.memberships.values()
                if (group_id is None or m["group_id"] == group_id) and self.eligible_assignee(m["user_id"])]

    def role_id(self, role_type: int | None) -> int | None:
        """The id of the account's custom role with this role_type (None for a plain agent)."""
        return next((r["id"] for r in self.custom_roles.values() if r["role_type"] == role_type), None)

    def member_of(self, user_id: int, group_id: int) -> bool:
        return any(m["user_id"] == user_id and m["group_id"] == group_id for m in self.memberships.values())


class Sandbox:
    """All accounts of one sandbox server, with the shared id sequences and the clock."""

    def __init__(self, *, client_id: str = DEFAULT_CLIENT_ID, client_secret: str = DEFAULT_CLIENT_SECRET,
                 auto_approve: bool = False, redirect_uris: list[str] | None = None) -> None:
        self.redirect_uris = list(redirect_uris or [])  # of the default client; empty: any loopback URL
        self.lock = threading.RLock()
        self.clock = Clock()
        self.accounts: dict[str, Account] = {}
        self.client_id = client_id
        self.client_secret = client_secret
        self.auto_approve = auto_approve
        self._ids = itertools.count(10_000_000_001)
        self._account_ids = itertools.count(22_000_001)

    def next_id(self) -> int:
        return next(self._ids)

    def create_account(self, subdomain: str, *, seed: str = "demo") -> Account:
        from round_robin_local.sandbox.demo_data import seed_account  # noqa: PLC0415 (avoid an import cycle)

        with self.lock:
            if subdomain in self.accounts:
                raise ValueError(f"account {subdomain!r} exists")
            account = Account(subdomain=subdomain, id=next(self._account_ids))
            account.clients[self.client_id] = OAuthClientRecord(
                id=self.next_id(), identifier=self.client_id, secret=self.client_secret, name="Round Robin (local)",
                redirect_uris=list(self.redirect_uris),
            )
            for name, role_type in CUSTOM_ROLES:
                role_id = self.next_id()
                account.custom_roles[role_id] = {"id": role_id, "name": name, "role_type": role_type}
            if seed == "demo":
                seed_account(self, account)
            self.accounts[subdomain] = account
            return account

    # -- users, groups, memberships -------------------------------------------------------------------

    def add_user(self, account: Account, name: str, role: str, *, active: bool = True, suspended: bool = False,
                 email: str | None = None, role_type: int | None = None) -> dict[str, Any]:
        """A user; `role_type` defaults to 4 for an admin and null for anyone else (a plain agent)."""
        now = self.clock.iso()
        role_type = role_type if role_type is not None or role != "admin" else ADMIN_ROLE_TYPE
        user = {
            "id": self.next_id(),
            "url": "",
            "name": name,
            "email": email or f"{name.lower().replace(' ', '.')}@{account.subdomain}.example",
            "role": role,
            "role_type": role_type,
            "custom_role_id": account.role_id(role_type) if role_type is not None else None,
            "active": active,
            "suspended": suspended,
            "verified": True,
            "default_group_id": None,
            "time_zone": DEFAULT_TIME_ZONE[0],
            "iana_time_zone": DEFAULT_TIME_ZONE[1],
            # Values of the account's user fields by key (`{}` when it has none: users API, JSON format).
            "user_fields": {f["key"]: unset_value(f) for f in account.user_fields.values()},
            "created_at": now,
            "updated_at": now,
        }
        account.users[user["id"]] = user
        return user

    def add_group(self, account: Account, name: str) -> dict[str, Any]:
        now = self.clock.iso()
        group = {"id": self.next_id(), "url": "", "name": name, "deleted": False, "default": False,
                 "created_at": now, "updated_at": now}
        account.groups[group["id"]] = group
        return group

    def add_membership(self, account: Account, user_id: int, group_id: int, *,
                       first: bool | None = None) -> dict[str, Any]:
        """`first`: whether it is the user's first membership (their default group), when the caller knows."""
        now = self.clock.iso()
        if first is None:
            first = not any(m["user_id"] == user_id for m in account.memberships.values())
        membership = {"id": self.next_id(), "url": "", "user_id": user_id, "group_id": group_id,
                      "default": first, "created_at": now, "updated_at": now}
        account.memberships[membership["id"]] = membership
        if first:
            account.users[user_id]["default_group_id"] = group_id
        return membership

    # -- OAuth ---------------------------------------------------------------------------------------

    def issue_token(self, account: Account, client: str, user_id: int, scopes: list[str], *,
                    expires_in: int | None = None, refresh_expires_in: int | None = None,
                    with_refresh: bool = True, expires: bool = True) -> Token:
        now = self.clock.now()
        access_life = _clamp(expires_in, ACCESS_TOKEN_LIFETIME, ACCESS_TOKEN_RANGE)
        refresh_life = _clamp(refresh_expires_in, REFRESH_TOKEN_LIFETIME, REFRESH_TOKEN_RANGE)
        token = Token(
            id=self.next_id(),
            access_token=secrets.token_hex(32),
            refresh_token=secrets.token_hex(32) if with_refresh else None,
            client=client,
            user_id=user_id,
            scopes=scopes,
            created_at=now,
            expires_at=now + access_life if expires else None,
            refresh_expires_at=now + refresh_life if with_refresh else None,
        )
        account.tokens[token.access_token] = token
        if token.refresh_token:
            account.refresh_tokens[token.refresh_token] = token
        return token

    def expire_access_tokens(self, account: Account) -> int:
        """Every live access token of the account expires now (refresh tokens stay valid): Zendesk refusing
        tokens before the expiry a client recorded. Returns how many."""
        now = self.clock.now()
        live = [t for t in account.tokens.values() if t.expires_at is None or t.expires_at >= now]
        for token in live:
            token.expires_at = now - 1
        return len(live)

    def revoke(self, account: Account, token: Token) -> None:
        """Delete the access token and its refresh token (what a refresh does to the previous pair)."""
        account.tokens.pop(token.access_token, None)
        if token.refresh_token:
            account.refresh_tokens.pop(token.refresh_token, None)


def unset_value(user_field: dict[str, Any]) -> bool | None:
    """A user's value of a field never set: false for a checkbox (its value is a boolean), else null (user fields,
    developer.zendesk.com/api-reference/ticketing/users/user_fields/)."""
    return False if user_field["type"] == "checkbox" else None


def _clamp(requested: int | None, default: int, bounds: tuple[int, int]) -> int:
    if requested is None:
        return default
    return max(bounds[0], min(bounds[1], int(requested)))
