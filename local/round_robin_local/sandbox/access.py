"""Who is calling the API and what they may do: OAuth bearer tokens and API tokens, scopes, and the
resources only admins may use."""

from __future__ import annotations

import base64
from typing import TYPE_CHECKING, Any

from werkzeug.wrappers import Request

from round_robin_local.sandbox.answers import ApiError, forbidden, no_access

if TYPE_CHECKING:
    from round_robin_local.sandbox.model import Account, Sandbox

KNOWN_SCOPES = {"read", "write", "impersonate"} | {
    f"{resource}:{access}"
    for resource in ("tickets", "users", "auditlogs", "organizations", "hc", "apps", "triggers", "automations",
                     "targets", "webhooks", "macros", "requests", "satisfaction_ratings", "dynamic_content")
    for access in ("read", "write")
}
# Resources with their own scope; everything else (groups, memberships, search, job statuses) needs read/write.
SCOPED_RESOURCES = {"tickets", "users", "webhooks", "triggers"}
# Admins only (each API's "Allowed For"); business-hours schedules check their own endpoints (schedules.py).
ADMIN_ONLY = {"webhooks", "triggers", "oauth", "agent_availabilities"}


def authenticate(sandbox: Sandbox, request: Request, account: Account) -> tuple[dict[str, Any], list[str]]:
    """The calling user and the token's scopes (an API token has `read write`), or 401."""
    header = request.headers.get("Authorization", "")
    if header.startswith("Bearer "):
        token = account.tokens.get(header[len("Bearer "):])
        if token is None or (token.expires_at is not None and token.expires_at < sandbox.clock.now()):
            raise ApiError(401, {"error": "invalid_token",
                                 "error_description": "The access token provided is expired, revoked, "
                                                      "malformed or invalid for other reasons."})
        user = account.users.get(token.user_id)
        if user and user["active"] and not user["suspended"]:
            return user, token.scopes
    elif header.startswith("Basic "):
        try:
            login, _, password = base64.b64decode(header[len("Basic "):]).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            login, password = "", ""
        email, _, kind = login.partition("/")
        user_id = account.api_tokens.get(password) if kind == "token" else None
        user = account.users.get(user_id) if user_id else None
        if user and user["email"] == email and user["active"] and not user["suspended"]:
            return user, ["read", "write"]
    raise ApiError(401, {"error": "Couldn't authenticate you"})


def authorize_scope(method: str, parts: list[str], user: dict[str, Any], scopes: list[str]) -> None:
    """403 unless the token's scopes and the user's role allow `method` on the resource `parts[0]`."""
    if any(s not in KNOWN_SCOPES for s in scopes):
        raise forbidden()  # a token issued with an unknown scope is refused everywhere (see oauth.authorize)
    resource = parts[0] if parts else ""
    access = "read" if method in ("GET", "HEAD") else "write"
    # OAuth tokens are not a scopable resource (developer.zendesk.com/api-reference/ticketing/oauth/
    # oauth_tokens/, "Available scopes"), so showing one needs `read` and revoking one the broad `write`:
    # a token scoped `read tickets:write webhooks:write triggers:write` gets 403 on DELETE (Zendesk developer
    # advocacy, support.zendesk.com/hc/en-us/community/posts/4627188332186). The 403 body is the one captured
    # in community post 6224176367002.
    allowed = access in scopes or (resource in SCOPED_RESOURCES and f"{resource}:{access}" in scopes)
    if not allowed:
        raise forbidden()
    if resource == "oauth" and parts[1:2] == ["tokens"] and method != "POST":
        return  # Show/Revoke Token: "Allowed for: Admins, Agents, End Users" (ownership checked in revoke)
    if resource in ADMIN_ONLY and user["role"] != "admin":
        raise no_access()
    if user["role"] == "end-user":
        raise no_access()
