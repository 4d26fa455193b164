"""OAuth 2.0 authorization code flow with PKCE against Zendesk (RFC 6749, RFC 7636).

State and PKCE are small pure functions; building the authorize URL does no I/O. The token endpoint client
maps Zendesk's answers to TokenSet or to OAuthError / OAuthUnavailableError.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import urlencode

import requests

from round_robin.errors import OAuthError, OAuthUnavailableError, StateError

# What the service uses, no more: `read` (users, groups and memberships have no resource scope),
# ticket assignment, and managing its own webhook and trigger.
SCOPES: tuple[str, ...] = ("read", "tickets:write", "webhooks:write", "triggers:write")

_STATE_BYTES = 32  # 256 random bits; the issue asks for at least 128.
_STATE_PATTERN = re.compile(r"[A-Za-z0-9_-]{43}")
_TIMEOUT = (3.05, 10)
_TRANSIENT_STATUSES = {502, 503, 504}


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def new_state() -> str:
    """A fresh, unguessable `state` value (URL-safe, 256 bits)."""
    return secrets.token_urlsafe(_STATE_BYTES)


def check_state_format(state: str | None) -> str:
    """Return `state` if it has the shape new_state() produces, else raise StateError."""
    if not state or not _STATE_PATTERN.fullmatch(state):
        raise StateError("the sign-in link is invalid")
    return state


def state_key(state: str) -> str:
    """The storage key of a state: its SHA-256, so that the state itself is never stored."""
    return hashlib.sha256(state.encode("ascii")).hexdigest()


def code_verifier_for(state: str, key: bytes) -> str:
    """The PKCE code verifier bound to `state` (RFC 7636 section 4.1: 43 characters, unreserved set).

    Derived as HMAC-SHA256(server key, state) so that it is never stored or sent anywhere but the token
    endpoint: whoever intercepts the redirect (code and state) still cannot compute it.
    """
    return _b64url(hmac.new(key, state.encode("ascii"), hashlib.sha256).digest())


def code_challenge(verifier: str) -> str:
    """The S256 code challenge of a verifier (RFC 7636 section 4.2)."""
    return _b64url(hashlib.sha256(verifier.encode("ascii")).digest())


def authorize_url(
    base_url: str, *, client_id: str, redirect_uri: str, state: str, challenge: str,
    scopes: tuple[str, ...] = SCOPES,
) -> str:
    """The account's authorize URL for the code flow with PKCE S256."""
    query = urlencode(
        {
            "response_type": "code",
            "client_id": client_id,
            "redirect_uri": redirect_uri,
            "scope": " ".join(scopes),
            "state": state,
            "code_challenge": challenge,
            "code_challenge_method": "S256",
        }
    )
    return f"{base_url}/oauth/authorizations/new?{query}"


@dataclass(frozen=True)
class TokenSet:
    """An OAuth token pair with absolute expiry times (epoch seconds; None when Zendesk gave no lifetime)."""

    access_token: str = field(repr=False)
    refresh_token: str | None = field(repr=False)
    access_expires_at: float | None
    refresh_expires_at: float | None
    scope: str
    token_type: str = "bearer"
    issued_at: float | None = None

    @classmethod
    def from_response(cls, payload: dict[str, Any], now: float, previous_refresh: str | None = None) -> TokenSet:
        """Build from a token endpoint answer; keeps the previous refresh token if the answer has none."""
        access = payload.get("access_token")
        if not isinstance(access, str) or not access:
            raise OAuthError("invalid_response", "the token endpoint answered without an access_token")
        expires_in = payload.get("expires_in")
        refresh_in = payload.get("refresh_token_expires_in")
        return cls(
            access_token=access,
            refresh_token=payload.get("refresh_token") or previous_refresh,
            access_expires_at=now + float(expires_in) if expires_in is not None else None,
            refresh_expires_at=now + float(refresh_in) if refresh_in is not None else None,
            scope=str(payload.get("scope", "")),
            token_type=str(payload.get("token_type", "bearer")).lower(),
            issued_at=now,
        )

    def with_expiry(self, access_expires_at: float | None, refresh_expires_at: float | None) -> TokenSet:
        """A copy with expiry times filled in (from GET /api/v2/oauth/tokens/current.json)."""
        return replace(
            self,
            access_expires_at=self.access_expires_at or access_expires_at,
            refresh_expires_at=self.refresh_expires_at or refresh_expires_at,
        )

    def is_expired(self, now: float, leeway: float = 60.0) -> bool:
        """True when the access token expires within `leeway` seconds (refresh early, never late)."""
        return self.access_expires_at is not None and now >= self.access_expires_at - leeway

    def refresh_token_age(self, now: float) -> float:
        """How much of the refresh token's lifetime has passed, 0.0 to 1.0 (0.0 when unknown)."""
        if self.refresh_expires_at is None or self.issued_at is None or self.refresh_expires_at <= self.issued_at:
            return 0.0
        return min(1.0, max(0.0, (now - self.issued_at) / (self.refresh_expires_at - self.issued_at)))

    def to_dict(self) -> dict[str, Any]:
        return {
            "access_token": self.access_token,
            "refresh_token": self.refresh_token,
            "access_expires_at": self.access_expires_at,
            "refresh_expires_at": self.refresh_expires_at,
            "scope": self.scope,
            "token_type": self.token_type,
            "issued_at": self.issued_at,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TokenSet:
        return cls(
            access_token=data["access_token"],
            refresh_token=data.get("refresh_token"),
            access_expires_at=data.get("access_expires_at"),
            refresh_expires_at=data.get("refresh_expires_at"),
            scope=data.get("scope", ""),
            token_type=data.get("token_type", "bearer"),
            issued_at=data.get("issued_at"),
        )


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
    ) -> None:
        self._base_url_for = base_url_for
        self._client_id = client_id
        self._client_secret = client_secret
        self._session = session
        self._clock = clock
        self._sleep = sleep
        self._attempts = attempts

    def __repr__(self) -> str:
        return f"OAuthClient(client_id={self._client_id!r})"

    def exchange_code(self, subdomain: str, *, code: str, code_verifier: str, redirect_uri: str) -> TokenSet:
        """Trade an authorization code (valid 120 s) for a token set."""
        body = {
            "grant_type": "authorization_code",
            "code": code,
            "client_id": self._client_id,
            "client_secret": self._client_secret(),
            "redirect_uri": redirect_uri,
            "scope": " ".join(SCOPES),
            "code_verifier": code_verifier,
        }
        return TokenSet.from_response(self._post(subdomain, body), self._clock())

    def refresh(self, subdomain: str, refresh_token: str) -> TokenSet:
        """Trade a refresh token for a new pair. Zendesk deletes the old access AND refresh tokens."""
        body = {
            "grant_type": "refresh_token",
            "refresh_token": refresh_token,
            "client_id": self._client_id,
            "client_secret": self._client_secret(),
        }
        return TokenSet.from_response(self._post(subdomain, body), self._clock(), previous_refresh=refresh_token)

    def _post(self, subdomain: str, body: dict[str, str]) -> dict[str, Any]:
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
