"""Access tokens for API calls, and the single-flight refresh shared by every function.

Zendesk's refresh tokens are single-use: a successful refresh deletes the previous access AND refresh tokens
(support.zendesk.com/hc/en-us/articles/9182123625370). Two processes refreshing with the same refresh token
would leave one of them with `invalid_grant`, and, if it then overwrote storage, the account disconnected.
So a refresh runs under a per-account DynamoDB lease; the holder re-reads the stored tokens first (someone may
have just refreshed), refreshes, persists the new pair before anything uses it, and releases. The others wait
briefly and re-read. A new grant from a connect is stored under the same lease (`install`), and a refresh whose
grant raced one (the stored refresh token changed while it was at Zendesk) discards its own result: the
connect's grant is the account's now. The lease outlasts the token endpoint's slowest answer (every attempt
and its backoff) and the save's retries, so it never lapses in the middle of a refresh.

Which token is stale is said by its fingerprint (credentials.credential_fingerprint), never by its value.
A connection is broken only when Zendesk answers `invalid_grant` to the stored refresh token after a fresh
re-read, or refuses a token that a refresh grant has just returned. A 401 on any other token (one a warm
process still held, or a stored one Zendesk refuses before its recorded expiry) leads to a refresh with that
token as the stale one.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import replace
from typing import TypeVar

from round_robin.accounts.credentials import Credentials
from round_robin.accounts.vault import TokenVault
from round_robin.aws.leases import LeaseStore
from round_robin.errors import (
    ConnectionBrokenError,
    OAuthError,
    OAuthUnavailableError,
    StorageError,
    ZendeskUnauthorizedError,
)
from round_robin.observability import MetricUnit, logger, metrics
from round_robin.table import account_pk
from round_robin.zendesk.oauth import OAuthClient

T = TypeVar("T")

EXPIRY_LEEWAY = 120.0  # refresh this long before the access token expires
LEASE_SECONDS = 90.0  # > 3 token-endpoint attempts of 13 s each, their backoff, and the save's retries
WAIT_FOR_OTHER_REFRESH = 15.0
WAIT_TO_INSTALL = 10.0  # a connect waits this long for a refresh in flight, then stores its grant anyway
SAVE_ATTEMPTS = 3
MAX_REFUSALS = 3  # 401 rounds in one call, each on a token some other process had just stored


class TokenManager:
    def __init__(
        self,
        *,
        vault: TokenVault,
        oauth: OAuthClient,
        leases: LeaseStore,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._vault = vault
        self._oauth = oauth
        self._leases = leases
        self._clock = clock
        self._sleep = sleep

    def credentials(self, subdomain: str) -> Credentials:
        """The account's credentials, refreshed first if the access token is about to expire."""
        credentials = self._vault.load(subdomain)
        tokens = credentials.tokens
        if credentials.auth_method == "oauth" and tokens is not None \
                and tokens.is_expired(self._clock(), EXPIRY_LEEWAY):
            credentials = self.refresh(subdomain, credentials.fingerprint())
        return credentials

    def stored(self, subdomain: str) -> Credentials:
        """The credentials as stored now (a fresh read, no refresh)."""
        return self._vault.load(subdomain, fresh=True)

    def after_unauthorized(self, subdomain: str, refused: str, operation: Callable[[], T]) -> T:
        """A Zendesk call answered 401 to the credential whose fingerprint is `refused`: replace that credential
        (single-flight) and run `operation` again, as often as Zendesk refuses a token nobody has just granted.

        ConnectionBrokenError when Zendesk refuses the token a refresh grant has just returned, answers
        `invalid_grant` to the stored refresh token, or the refused credential cannot be refreshed (an API token,
        a token without refresh token). ZendeskUnauthorizedError, for the caller to retry later, when other
        processes kept rotating the token under this one MAX_REFUSALS times.
        """
        for _ in range(MAX_REFUSALS):
            replacement, granted = self._replace(subdomain, refused)
            try:
                return operation()
            except ZendeskUnauthorizedError as again:
                # Broken if the token our grant just returned is refused, unless the schedule rotated it since.
                if granted and again.credential == replacement.fingerprint() == self.stored(subdomain).fingerprint():
                    raise ConnectionBrokenError(subdomain, "unauthorized") from None
                refused, last = again.credential, again
        raise last

    def install(self, subdomain: str, credentials: Credentials, *, forget_previous: bool = False) -> None:
        """Store the credentials of a new grant (a connect, a migration) under the refresh lease, so a refresh in
        flight cannot write its older pair over them. A refresh that outlasts WAIT_TO_INSTALL still cannot: it
        re-reads before it saves and discards its result when the stored refresh token changed."""
        pk = account_pk(subdomain)
        owner = uuid.uuid4().hex
        deadline = self._clock() + WAIT_TO_INSTALL
        while not self._leases.acquire(pk, "refresh", owner, self._clock(), LEASE_SECONDS):
            if self._clock() >= deadline:
                logger.warning("a token refresh is still running; storing the new grant anyway", subdomain=subdomain)
                self._save(subdomain, credentials, forget_previous=forget_previous)
                return
            self._sleep(0.2)
        try:
            self._save(subdomain, credentials, forget_previous=forget_previous)
        finally:
            self._leases.release(pk, "refresh", owner)

    def authorization(self, subdomain: str) -> str:
        """The Authorization header value for the account's next API call."""
        return self.credentials(subdomain).authorization()

    def refresh(self, subdomain: str, stale: str) -> Credentials:
        """Replace the credential whose fingerprint is `stale` (expired, due, or refused) once, whoever asks and
        however many at once: a credential stored since is taken as it is. ConnectionBrokenError as above."""
        return self._replace(subdomain, stale)[0]

    def _replace(self, subdomain: str, stale: str) -> tuple[Credentials, bool]:
        """Credentials other than `stale`, and whether this call's refresh grant issued them."""
        pk = account_pk(subdomain)
        owner = uuid.uuid4().hex  # this attempt's own: concurrent callers in one process must not share it
        deadline = self._clock() + WAIT_FOR_OTHER_REFRESH
        while True:
            current = self._vault.load(subdomain, fresh=True)
            if self._replaced(current, stale):
                return current, False
            if self._leases.acquire(pk, "refresh", owner, self._clock(), LEASE_SECONDS):
                try:
                    return self._refresh_holding_lease(subdomain, stale)
                finally:
                    self._leases.release(pk, "refresh", owner)
            if self._clock() >= deadline:
                raise StorageError("another process's token refresh did not finish in time")
            self._sleep(0.2)

    def _replaced(self, credentials: Credentials, stale: str) -> bool:
        """True when the stored credentials are no longer the stale ones, and not expired by their record."""
        if credentials.fingerprint() == stale:
            return False
        return credentials.tokens is None or not credentials.tokens.is_expired(self._clock(), 0)

    def _refresh_holding_lease(self, subdomain: str, stale: str) -> tuple[Credentials, bool]:
        current = self._vault.load(subdomain, fresh=True)
        if self._replaced(current, stale):
            return current, False  # someone refreshed while we waited for the lease
        if current.auth_method != "oauth" or current.tokens is None:
            raise ConnectionBrokenError(subdomain, "unauthorized")  # an API token Zendesk refused
        if not current.tokens.refresh_token:
            raise ConnectionBrokenError(subdomain, "no_refresh_token")
        try:
            tokens = self._oauth.refresh(subdomain, current.tokens.refresh_token)
        except OAuthUnavailableError:
            metrics.add_metric(name="TokenRefreshFailed", unit=MetricUnit.Count, value=1)
            raise
        except OAuthError as exc:
            metrics.add_metric(name="TokenRefreshFailed", unit=MetricUnit.Count, value=1)
            if exc.error != "invalid_grant":
                raise
            again = self._vault.load(subdomain, fresh=True)  # one re-read: did another refresh land meanwhile?
            if again.tokens is not None and again.tokens.refresh_token != current.tokens.refresh_token:
                return again, False
            raise ConnectionBrokenError(subdomain, "invalid_grant") from exc
        latest = self._vault.load(subdomain, fresh=True)
        if _refresh_token(latest) != current.tokens.refresh_token:
            # A connect installed a new grant while ours was at Zendesk (our lease had lapsed, or it stopped
            # waiting): that grant is the account's now; ours, from the pair it replaced, is dropped unused.
            logger.warning("a new grant was stored during the refresh; keeping it", subdomain=subdomain)
            return latest, False
        updated = replace(current, tokens=tokens)
        self._save(subdomain, updated)
        metrics.add_metric(name="TokenRefreshed", unit=MetricUnit.Count, value=1)
        logger.info("token refreshed", subdomain=subdomain, access_expires_at=tokens.access_expires_at,
                    refresh_expires_at=tokens.refresh_expires_at)
        return updated, True

    def _save(self, subdomain: str, credentials: Credentials, *, forget_previous: bool = False) -> None:
        """Persist the new pair before anything uses it: the old pair no longer works anywhere."""
        for attempt in range(1, SAVE_ATTEMPTS + 1):
            try:
                self._vault.save(subdomain, credentials, forget_previous=forget_previous)
                return
            except StorageError:
                if attempt == SAVE_ATTEMPTS:
                    logger.critical("refreshed tokens could not be stored; the account must reconnect",
                                    subdomain=subdomain)
                    raise
                self._sleep(0.5 * attempt)


def _refresh_token(credentials: Credentials) -> str | None:
    return credentials.tokens.refresh_token if credentials.tokens is not None else None
