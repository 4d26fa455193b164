"""A connection that Zendesk no longer accepts: flag the account, tell the operators once, park its tickets.

Causes: `invalid_grant` on refresh (after one re-read of storage), 401 even after a refresh, the connecting
user no longer an admin. Reconnecting through /oauth/start restores the account and re-queues parked tickets.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from round_robin.accounts.registry import AccountRegistry
from round_robin.observability import MetricUnit, logger, metrics


class ConnectionAlerts:
    def __init__(self, *, registry: AccountRegistry, sns: Any, topic_arn: str | None, public_base_url: str | None,
                 clock: Callable[[], float] = time.time) -> None:
        self._registry = registry
        self._sns = sns
        self._topic_arn = topic_arn
        self._public_base_url = public_base_url
        self._clock = clock

    def broken(self, subdomain: str, reason: str) -> bool:
        """Mark the account `needs_reconnect`; log, count and notify only when this call changed it."""
        if not self._registry.mark_needs_reconnect(subdomain, reason, self._clock()):
            return False
        logger.error("connection broken: an admin must reconnect", subdomain=subdomain, reason=reason)
        metrics.add_metric(name="ConnectionBroken", unit=MetricUnit.Count, value=1)
        self._notify(subdomain, reason)
        return True

    def _notify(self, subdomain: str, reason: str) -> None:
        if not self._topic_arn:
            return
        link = f"{self._public_base_url or '<service URL>'}/oauth/start?subdomain={subdomain}"
        message = (
            f"Round Robin for Zendesk can no longer use its connection to {subdomain}.zendesk.com ({reason}).\n"
            f"New tickets are acknowledged and parked, not assigned.\n\n"
            f"A Zendesk administrator of {subdomain} should reconnect by opening:\n{link}\n\n"
            "Parked tickets are assigned as soon as the account is reconnected."
        )
        try:
            self._sns.publish(TopicArn=self._topic_arn, Subject=f"Reconnect {subdomain}.zendesk.com"[:100],
                              Message=message)
        except (ClientError, BotoCoreError) as exc:  # the flag and the log line stand; the page is best effort
            logger.warning("could not notify operators", subdomain=subdomain, error=type(exc).__name__)
