"""The OAuth Tokens and OAuth Clients APIs (`/api/v2/oauth/tokens`, `/api/v2/oauth/clients`)."""

from __future__ import annotations

import secrets
from typing import Any

from werkzeug.wrappers import Request, Response

from round_robin_local.sandbox.answers import (
    body_of,
    invalid_endpoint,
    json_answer,
    no_access,
    not_found,
    record_invalid,
    to_int,
)
from round_robin_local.sandbox.model import Account, OAuthClientRecord, Sandbox, Token
from round_robin_local.sandbox.pagination import paginate


class OAuthTokensApi:
    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox

    def route(self, request: Request, account: Account, user: dict[str, Any], rest: list[str]) -> Response:
        """`/api/v2/oauth/<rest>`."""
        method = request.method
        match rest:
            case ["tokens", "current"] if method == "GET":
                return json_answer({"token": self.view(account, _current_token(request, account))})
            case ["tokens", "current"] if method == "DELETE":
                # Documented to revoke (developer.zendesk.com/documentation/api-basics/authentication/
                # revoking-oauth-token), but reported to answer 204 and leave the token valid, with full write
                # access (community posts 4627188332186 and 5537132288282, 2022-2023): the sandbox does the
                # reported thing, so nothing relying on it passes here. Revoke by id instead.
                _current_token(request, account)
                return Response(status=204)
            case ["tokens", token_id] if method == "DELETE":
                return self.revoke(account, user, token_id)
            case ["tokens"] if method == "POST":
                return self.create_token(request, account, user)
            case ["clients"] if method == "GET":
                return paginate(request, account, "clients", [_client_view(c) for c in account.clients.values()])
            case ["clients"] if method == "POST":
                return self.create_client(request, account, user)
        raise invalid_endpoint()

    def view(self, account: Account, token: Token) -> dict[str, Any]:
        clock = self.sandbox.clock
        return {
            "id": token.id,
            "client_id": account.clients[token.client].id if token.client in account.clients else None,
            "user_id": token.user_id,
            "scopes": token.scopes,
            "token": token.access_token[:10],
            "created_at": clock.iso(token.created_at),
            "expires_at": clock.iso(token.expires_at) if token.expires_at else None,
            "refresh_token_expires_at": clock.iso(token.refresh_expires_at) if token.refresh_expires_at else None,
            "used_at": clock.iso(),
        }

    def revoke(self, account: Account, user: dict[str, Any], token_id: str) -> Response:
        target = next((t for t in account.tokens.values() if str(t.id) == token_id), None)
        if target is None:
            raise not_found()
        if target.user_id != user["id"] and user["role"] != "admin":
            raise no_access()
        self.sandbox.revoke(account, target)
        return Response(status=204)

    def create_token(self, request: Request, account: Account, user: dict[str, Any]) -> Response:
        """The OAuth Tokens API: an access token for a client, no refresh token, no expiry (admins only)."""
        if user["role"] != "admin":
            raise no_access()
        spec = body_of(request, "token")
        client = next((c for c in account.clients.values() if c.id == to_int(spec.get("client_id"))), None)
        if client is None:
            raise record_invalid("Client: is invalid", "client_id")
        scopes = [str(s) for s in spec.get("scopes") or ["read", "write"]]
        token = self.sandbox.issue_token(account, client.identifier, user["id"], scopes, with_refresh=False,
                                         expires=False)
        if account.created_token_lifetime:  # the doc says they don't expire; tests check the service copes if they do
            token.expires_at = token.created_at + account.created_token_lifetime
        view = self.view(account, token)
        return json_answer({"token": {**view, "full_token": token.access_token, "refresh_token": None}}, 201)

    def create_client(self, request: Request, account: Account, user: dict[str, Any]) -> Response:
        spec = body_of(request, "client")
        identifier, name = str(spec.get("identifier") or "").strip(), str(spec.get("name") or "").strip()
        if not identifier or not name:
            raise record_invalid("Name and identifier are required", "identifier")
        if identifier in account.clients:
            raise record_invalid("Identifier: has already been taken", "identifier")
        kind = spec.get("kind", "confidential")
        if kind not in ("public", "confidential"):
            raise record_invalid("Kind: is invalid", "kind")
        client = OAuthClientRecord(id=self.sandbox.next_id(), identifier=identifier, name=name, kind=kind,
                                   secret=secrets.token_hex(32), redirect_uris=list(spec.get("redirect_uri") or []))
        account.clients[identifier] = client
        return json_answer({"client": {**_client_view(client), "secret": client.secret, "user_id": user["id"]}}, 201)


def _current_token(request: Request, account: Account) -> Token:
    header = request.headers.get("Authorization", "")
    token = account.tokens.get(header[len("Bearer "):]) if header.startswith("Bearer ") else None
    if token is None:
        raise not_found()
    return token


def _client_view(client: OAuthClientRecord) -> dict[str, Any]:
    return {"id": client.id, "identifier": client.identifier, "name": client.name, "kind": client.kind,
            "redirect_uri": client.redirect_uris}
