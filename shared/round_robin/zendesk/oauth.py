"""Zendesk's OAuth token endpoint, `<base>/oauth/tokens`: the code exchange and the refresh grant (RFC 6749);
and the token in use, as the OAuth Tokens API describes it.

Maps Zendesk's answers to TokenSet or to OAuthError / OAuthUnavailableError. The PKCE helpers are in
round_robin/connect/pkce.py; the token data in round_robin/accounts/credentials.py.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import requests

from round_robin.accounts.credentials import TokenSet
from round_robin.errors import OAuthError, OAuthUnavailableError
from round_robin.zendesk.client import ZendeskClient

# What the service uses, no more: `read` (users, groups and memberships have no resource scope),
# ticket assignment, and managing its own webhook and trigger.
SCOPES: tuple[str, ...] = ("read", "tickets:write", "webhooks:write", "triggers:write")

# Zendesk's defaults since Feb 2, 2026 (support.zendesk.com/hc/en-us/articles/10212201463962).
DEFAULT_ACCESS_LIFETIME = 1800
DEFAULT_REFRESH_LIFETIME = 30 * 86400

_TIMEOUT = (3.05, 10)
_TRANSIENT_STATUSES = {502, 503, 504}


def current_token(client: ZendeskClient) -> dict[str, Any]:
    """The OAuth token `client` uses: id, scopes, expires_at, refresh_token_expires_at (Zendesk's own times)."""
    return client.get("/api/v2/oauth/tokens/current.json")["token"]


class OAuthClient:
    """Zendesk's token endpoint, `<base>/oauth/tokens`, for one OAuth client (confidential, with PKCE)."""

    def __init__(
        self,
        *,
        base_url_for: Callable[[str], str],
        client_id: str,
        client_secret: Callable[[], str],
        session: requests.Session,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
        attempts: int = 3,
        access_lifetime: int = DEFAULT_ACCESS_LIFETIME,
        refresh_lifetime: int = DEFAULT_REFRESH_LIFETIME,
    ) -> None:
        self._base_url_for = base_url_for
        self._client_id = client_id
        self._client_secret = client_secret
        self._session = session
        self._clock = clock
        self._sleep = sleep
        self._attempts = attempts
        self._lifetimes = access_lifetime, refresh_lifetime

    def __repr__(self) -> str:
        return f"OAuthClient(client_id={self._client_id!r})"

    def exchange_code(self, subdomain: str, *, code: str, code_verifier: str, redirect_uri: str,
                      scopes: tuple[str, ...] = SCOPES) -> TokenSet:
        """Trade an authorization code (valid 120 s) for a token set."""
        body = {
            "grant_type": "authorization_code",
            "code": code,
            "client_id": self._client_id,
            "client_secret": self._client_secret(),
            "redirect_uri": redirect_uri,
            "scope": " ".join(scopes),
            "code_verifier": code_verifier,
        }
        return self._grant(subdomain, body, None)

    def refresh(self, subdomain: str, refresh_token: str) -> TokenSet:
        """Trade a refresh token for a new pair. Zendesk deletes the old access AND refresh tokens."""
        body = {
            "grant_type": "refresh_token",
            "refresh_token": refresh_token,
            "client_id": self._client_id,
            "client_secret": self._client_secret(),
        }
        return self._grant(subdomain, body, refresh_token)

    def _grant(self, subdomain: str, body: dict[str, Any], previous_refresh: str | None) -> TokenSet:
        """Ask for the configured lifetimes on every grant: Zendesk applies and enforces them (support.zendesk.com/
        hc/en-us/articles/9182123625370), and, for clients whose expiry is enforced, has been seen to leave
        `expires_in` out of its answer unless asked (NangoHQ/nango issue 6775). An answer without lifetimes gets
        the ones asked for. Counted from when the request was sent, so never later than Zendesk's own expiry."""
        access_lifetime, refresh_lifetime = self._lifetimes
        sent_at = self._clock()
        payload = self._post(subdomain, {**body, "expires_in": access_lifetime,
                                         "refresh_token_expires_in": refresh_lifetime})
        tokens = TokenSet.from_response(payload, sent_at, previous_refresh=previous_refresh)
        return tokens.with_expiry(sent_at + access_lifetime, sent_at + refresh_lifetime)

    def _post(self, subdomain: str, body: dict[str, Any]) -> dict[str, Any]:
        url = f"{self._base_url_for(subdomain)}/oauth/tokens"
        for attempt in range(1, self._attempts + 1):
            try:
                response = self._session.post(url, json=body, timeout=_TIMEOUT)
            except requests.RequestException as exc:
                # Only a failed connection is retried: the request never reached Zendesk, so a retry cannot
                # spend the grant twice. A read timeout is not: the single-use code or refresh token may be gone.
                if attempt == self._attempts or not isinstance(exc, requests.ConnectionError):
                    raise OAuthUnavailableError(
                        f"Zendesk's token endpoint could not be reached ({type(exc).__name__})"
                    ) from exc
            else:
                if response.status_code < 400:
                    return _json_object(response)
                if response.status_code not in _TRANSIENT_STATUSES and response.status_code < 500:
                    payload = _json_object(response, strict=False)
                    raise OAuthError(
                        str(payload.get("error") or f"http_{response.status_code}"),
                        str(payload.get("error_description") or ""),
                        status=response.status_code,
                    )
                if response.status_code not in _TRANSIENT_STATUSES or attempt == self._attempts:
                    raise OAuthUnavailableError(f"Zendesk's token endpoint answered HTTP {response.status_code}")
            self._sleep(0.25 * 2 ** (attempt - 1))
        raise AssertionError("unreachable")


def _json_object(response: requests.Response, strict: bool = True) -> dict[str, Any]:
    try:
        payload = response.json()
    except ValueError:
        payload = None
    if isinstance(payload, dict):
        return payload
    if strict:
        raise OAuthUnavailableError("Zendesk's token endpoint answered with something that is not JSON")
    return {}
