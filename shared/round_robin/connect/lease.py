"""One connect at a time per account: the `LEASE#connect` lease, held by the OAuth callback (connector.py), the
API-token registration (api_token.py) and the migration to OAuth (migration.py) for their whole run.

A double-click on Allow, two admins, or a migration racing a connect: the second waits for the first, then
finds what the first made and goes on idempotently; if it cannot get the lease in time it stops with
ConnectInProgressError (409 on the callback) and keeps nothing.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from round_robin.aws.leases import Lease, LeaseBusyError, LeaseStore
from round_robin.errors import RoundRobinError
from round_robin.observability import logger
from round_robin.table import account_pk

# The callback's timeout is 29 s (API Gateway's limit): a lease of 30 s never expires under a running callback,
# and one left by a crashed callback frees itself within half a minute.
CONNECT_LEASE_SECONDS = 30.0
# How long a second callback waits for the first: a connect takes a few seconds, and the waiting one must still
# do its own connect within its 29 s.
CONNECT_WAIT_SECONDS = 10.0


class ConnectInProgressError(RoundRobinError):
    """Another connect of the account held the lease for longer than this one could wait."""

    def __init__(self, subdomain: str) -> None:
        super().__init__(f"a connection of {subdomain} is already in progress; "
                         "open the connect link again in a minute")
        self.subdomain = subdomain


class ConnectLease:
    """Takes an account's connect lease; use the answer of `hold` in a `with` block."""

    def __init__(self, leases: LeaseStore, *, clock: Callable[[], float] = time.time,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self._leases = leases
        self._clock = clock
        self._sleep = sleep

    def hold(self, subdomain: str) -> Lease:
        """The account's connect lease, waiting up to CONNECT_WAIT_SECONDS for another holder."""
        try:
            return self._leases.hold(account_pk(subdomain), "connect", seconds=CONNECT_LEASE_SECONDS,
                                     wait=CONNECT_WAIT_SECONDS, clock=self._clock, sleep=self._sleep)
        except LeaseBusyError:
            logger.warning("connect already in progress", subdomain=subdomain)
            raise ConnectInProgressError(subdomain) from None
