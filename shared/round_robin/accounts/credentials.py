"""What the service holds for an account: the OAuth token pair (TokenSet, with absolute expiry times) or the
API token it still uses, and the webhook's signing secret. Plain data; stored by round_robin/accounts/vault.py."""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from round_robin.errors import OAuthError, StorageError


def credential_fingerprint(authorization: str) -> str:
    """A short SHA-256 of an Authorization header value: says which credential a call used, reveals nothing."""
    return hashlib.sha256(authorization.encode()).hexdigest()[:16]


def epoch_of(value: str | None) -> float | None:
    """Epoch seconds of a Zendesk time (ISO 8601, `Z`), None for none."""
    if not value:
        return None
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


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

    def with_zendesk_expiry(self, token: dict[str, Any]) -> TokenSet:
        """A copy with the expiry times of Zendesk's token object (GET /api/v2/oauth/tokens/current.json)."""
        return self.with_expiry(epoch_of(token.get("expires_at")), epoch_of(token.get("refresh_token_expires_at")))

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


@dataclass(frozen=True)
class Credentials:
    """An account's secret material."""

    auth_method: str  # "oauth" or "api_token"
    tokens: TokenSet | None = None
    api_email: str | None = None
    api_token: str | None = field(default=None, repr=False)
    connected_user_id: int | None = None
    webhook_id: str | None = None
    webhook_secret: str | None = field(default=None, repr=False)

    def authorization(self) -> str:
        """The Authorization header value for API calls."""
        if self.auth_method == "oauth" and self.tokens is not None:
            return f"Bearer {self.tokens.access_token}"
        if self.auth_method == "api_token" and self.api_email and self.api_token:
            raw = f"{self.api_email}/token:{self.api_token}".encode()
            return "Basic " + base64.b64encode(raw).decode("ascii")
        raise StorageError(f"the stored credentials (auth method {self.auth_method!r}) are incomplete")

    def fingerprint(self) -> str:
        """credential_fingerprint of this credential's Authorization value."""
        return credential_fingerprint(self.authorization())

    def to_json(self) -> str:
        data: dict[str, Any] = {"auth_method": self.auth_method, "connected_user_id": self.connected_user_id}
        if self.tokens is not None:
            data["tokens"] = self.tokens.to_dict()
        if self.api_token is not None:
            data["api_token"] = {"email": self.api_email, "token": self.api_token}
        if self.webhook_id is not None:
            data["webhook"] = {"id": self.webhook_id, "signing_secret": self.webhook_secret}
        return json.dumps(data)

    @classmethod
    def from_json(cls, text: str) -> Credentials:
        data = json.loads(text)
        api = data.get("api_token") or {}
        webhook = data.get("webhook") or {}
        return cls(
            auth_method=data["auth_method"],
            tokens=TokenSet.from_dict(data["tokens"]) if data.get("tokens") else None,
            api_email=api.get("email"),
            api_token=api.get("token"),
            connected_user_id=data.get("connected_user_id"),
            webhook_id=webhook.get("id"),
            webhook_secret=webhook.get("signing_secret"),
        )
