"""The pure parts of the OAuth code flow with PKCE (RFC 6749, RFC 7636): the `state`, the code verifier and
challenge, and the authorize URL. No I/O here.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from urllib.parse import urlencode

from round_robin.errors import StateError
from round_robin.zendesk.oauth import SCOPES

_STATE_BYTES = 32  # 256 random bits
_STATE_PATTERN = re.compile(r"[A-Za-z0-9_-]{43}")


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
