"""Sign in with Zendesk: the console's only way in (no passwords of its own).

The admin's own Zendesk account approves a grant with the `read` scope alone, through the service's existing
OAuth client and its callback URL (the state's purpose tells the callback it is a sign-in: connect/states.py).
The grant is used once, for `GET /api/v2/users/me`, to learn who signed in and that they are an admin of the
account, and then dropped: never stored, never logged. It is asked for with the shortest lifetimes Zendesk
allows (access 5 minutes, refresh 7 days: the minimum TTLs of support.zendesk.com/hc/en-us/articles/
10212201463962, and the bounds of `expires_in` and `refresh_token_expires_in` in developer.zendesk.com/
api-reference/ticketing/oauth/grant_type_tokens/), because the service's scopes cannot revoke it (see
connect/pages.py, REVOKE_IN_ADMIN_CENTER).

The sign-in is bound to the browser that started it (RFC 6749 section 10.12): a random value goes into a
short-lived cookie and its SHA-256 into the state, and the callback signs in only the browser that presents it.
Otherwise a person could be made to open someone else's redirect back and be signed in as them (login CSRF).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

from round_robin.accounts.registry import AccountRegistry
from round_robin.connect.pkce import authorize_url, code_challenge, code_verifier_for
from round_robin.connect.states import SIGN_IN, PendingAuthorization, StateStore
from round_robin.console.http import FormError
from round_robin.console.sessions import Session, SessionStore
from round_robin.errors import NotConnectedError, SignInBrowserError, SignInRefusedError
from round_robin.settings import Settings
from round_robin.zendesk import users
from round_robin.zendesk.client import ZendeskFactory
from round_robin.zendesk.oauth import OAuthClient

SIGN_IN_SCOPES: tuple[str, ...] = ("read",)  # /users/me needs no more
# The console pages a sign-in may open after it (`/admin/<page>`): a name from this list, never a URL, so a sign-in
# link cannot send anyone elsewhere. An alert's link to Health lands there (accounts/alerts.py).
LANDING_PAGES = ("settings", "agents", "assignments", "health")
DEFAULT_LANDING = "settings"
SIGN_IN_ACCESS_LIFETIME = 300  # Zendesk's minimum access-token TTL (5 minutes)
SIGN_IN_REFRESH_LIFETIME = 7 * 86400  # Zendesk's minimum refresh-token TTL (7 days)


@dataclass(frozen=True)
class SignedIn:
    session_id: str  # the cookie's value: the only copy
    session: Session


class SignIn:
    def __init__(self, *, settings: Settings, states: StateStore, state_key: bytes, oauth: OAuthClient,
                 zendesk: ZendeskFactory, registry: AccountRegistry, sessions: SessionStore,
                 clock: Callable[[], float] = time.time) -> None:
        self._settings = settings
        self._states = states
        self._state_key = state_key
        self._oauth = oauth
        self._zendesk = zendesk
        self._registry = registry
        self._sessions = sessions
        self._clock = clock

    def __repr__(self) -> str:
        return "SignIn()"

    def authorization_url(self, subdomain: str, redirect_uri: str,
                          landing: str = DEFAULT_LANDING) -> tuple[str, str]:
        """The authorize URL that signs an admin of a connected account in (then opens the console page `landing`),
        and the browser binding for its sign-in cookie; raise NotConnectedError for an account the service does
        not serve."""
        if landing not in LANDING_PAGES:
            raise ValueError(f"not a console page: {landing!r}")
        if self._registry.get(subdomain) is None:
            raise NotConnectedError(subdomain)
        browser = secrets.token_urlsafe(32)
        state = self._states.create(subdomain, self._clock(), purpose=SIGN_IN, browser=_digest(browser),
                                    landing=landing)
        return authorize_url(
            self._settings.zendesk_base_url(subdomain), client_id=self._settings.client_id,
            redirect_uri=redirect_uri, state=state, scopes=SIGN_IN_SCOPES,
            challenge=code_challenge(code_verifier_for(state, self._state_key)),
        ), browser

    def complete(self, pending: PendingAuthorization, *, state: str, code: str, redirect_uri: str,
                 browser: str | None, previous_session_id: str | None = None) -> SignedIn:
        """Check the browser binding, exchange the code, check the user is an admin of the account, and start a
        new session (ending the browser's previous one, so a session id is never carried across a sign-in)."""
        subdomain = pending.subdomain
        # Before the code is exchanged: an answer opened in another browser never becomes a grant.
        if not browser or not pending.browser or not hmac.compare_digest(_digest(browser), pending.browser):
            raise SignInBrowserError(subdomain)
        verifier = code_verifier_for(state, self._state_key)
        tokens = self._oauth.exchange_code(subdomain, code=code, code_verifier=verifier, redirect_uri=redirect_uri,
                                           scopes=SIGN_IN_SCOPES)
        me = users.me(self._zendesk(subdomain, lambda: f"Bearer {tokens.access_token}"))
        # The grant has served: it goes out of scope here and is kept nowhere.
        if me.get("role") != "admin":
            raise SignInRefusedError(subdomain, str(me.get("name") or ""), str(me.get("role")))
        if self._registry.get(subdomain) is None:  # disconnected while the admin was approving
            raise NotConnectedError(subdomain)
        self._sessions.delete(previous_session_id)
        session_id, session = self._sessions.create(subdomain=subdomain, user_id=int(me["id"]),
                                                    name=str(me.get("name") or ""), now=self._clock())
        return SignedIn(session_id, session)


def landing_page(raw: str | None) -> str:
    """The console page a sign-in asks to open after it (`page=`): DEFAULT_LANDING when not asked; FormError for a
    name not in LANDING_PAGES."""
    if raw is None or raw == "":
        return DEFAULT_LANDING
    if raw not in LANDING_PAGES:
        raise FormError(f"page must be {', '.join(LANDING_PAGES[:-1])} or {LANDING_PAGES[-1]}, got {raw[:40]!r}")
    return raw


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode("ascii", "replace")).hexdigest()
