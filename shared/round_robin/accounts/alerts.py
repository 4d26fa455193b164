"""A connection that Zendesk no longer accepts: flag the account, tell the operators once, park its tickets.

Causes: `invalid_grant` on refresh (after one re-read of storage), 401 even after a refresh, the connecting
user no longer an admin. Reconnecting through /oauth/start restores the account and re-queues parked tickets.
Also the warning, once, that a token without refresh token (made by the migration) will expire, and the report,
once per ticket, of tickets waiting for an eligible agent longer than the account allows (assignment/waiting.py).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
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

    def broken(self, subdomain: str, reason: str, *, since: float | None = None) -> bool:
        """Mark the account `needs_reconnect`; log, count and notify only when this call changed it. `since`: when
        the failing work began; a reconnect after that is not undone (see AccountRegistry.mark_needs_reconnect)."""
        if not self._registry.mark_needs_reconnect(subdomain, reason, self._clock(), since=since):
            return False
        logger.error("connection broken: an admin must reconnect", subdomain=subdomain, reason=reason)
        metrics.add_metric(name="ConnectionBroken", unit=MetricUnit.Count, value=1)
        self._notify(subdomain, reason)
        return True

    def expiring(self, subdomain: str, deadline: float) -> bool:
        """The account's token has no refresh token and dies at `deadline`: log, count and notify once."""
        if not self._registry.mark_expiry_warned(subdomain, deadline, self._clock()):
            return False
        when = datetime.fromtimestamp(deadline, UTC).strftime("%Y-%m-%d %H:%M UTC")
        logger.warning("token expires without refresh token: an admin must reconnect before then",
                       subdomain=subdomain, deadline=when)
        metrics.add_metric(name="TokenExpiringSoon", unit=MetricUnit.Count, value=1)
        self._publish(subdomain, f"Reconnect {subdomain}.zendesk.com before {when}", (
            f"The OAuth token Round Robin for Zendesk uses for {subdomain}.zendesk.com (made by the migration from "
            f"an API token) expires at {when} and cannot be refreshed.\n"
            f"Tickets are assigned until then; after it, they are parked.\n\n"
            f"Before then, a Zendesk administrator of {subdomain} should open:\n{self._link(subdomain)}\n\n"
            "This switches the account to a token pair the service renews by itself."
        ))
        return True

    def waiting_too_long(self, subdomain: str, tickets: Mapping[int, str], oldest_minutes: int) -> None:
        """Tell the operators these tickets (id -> why they wait) have waited too long; the caller marks each one
        reported, so each is in one alert only."""
        if not tickets:
            return
        logger.warning("tickets waiting too long for an eligible agent", subdomain=subdomain,
                       tickets={str(t): reason for t, reason in tickets.items()}, oldest_minutes=oldest_minutes)
        lines = "\n".join(f"  #{ticket_id}: {reason}" for ticket_id, reason in sorted(tickets.items()))
        count = f"{len(tickets)} ticket{'s' if len(tickets) > 1 else ''}"
        self._publish(subdomain, f"{count} of {subdomain}.zendesk.com waiting for an agent", (
            f"Round Robin for Zendesk has found nobody who may take these tickets of {subdomain}.zendesk.com for "
            f"longer than the account's waiting alert allows (the oldest for {oldest_minutes} minutes):\n"
            f"{lines}\n\n"
            "They are assigned as soon as someone in their group is available, in working hours and under their "
            "caps. Until then, they can be assigned by hand in Zendesk."
        ))

    def admin_changed(self, subdomain: str, event_id: str, change: str, health: str) -> bool:
        """Zendesk says the connecting admin changed (`change`: e.g. "user.role_changed"), and the health check
        that ran at once answered `health`: log, count and notify once per event."""
        if not self._registry.mark_admin_event(subdomain, event_id, self._clock()):
            return False
        logger.warning("the connecting admin changed in Zendesk", subdomain=subdomain, change=change, health=health)
        metrics.add_metric(name="ConnectingAdminChanged", unit=MetricUnit.Count, value=1)
        verdict = ("The connection still works." if health == "ok" else
                   f"The connection no longer works ({health}): tickets are parked until an administrator "
                   f"reconnects by opening:\n{self._link(subdomain)}")
        self._publish(subdomain, f"The admin who connected {subdomain}.zendesk.com changed", (
            f"Zendesk reported a change to the administrator whose grant Round Robin for Zendesk uses for "
            f"{subdomain}.zendesk.com ({change}).\nA health check ran at once. {verdict}\n\n"
            "If that person is leaving or losing the admin role, another administrator should reconnect the "
            "account by opening the connect link, so that the service does not depend on them."
        ))
        return True

    def _link(self, subdomain: str) -> str:
        return f"{self._public_base_url or '<service URL>'}/oauth/start?subdomain={subdomain}"

    def health_link(self, subdomain: str) -> str:
        """The console's Health page of the account (the admin signs in with Zendesk on the way)."""
        return f"{self._public_base_url or '<service URL>'}/admin/health?subdomain={subdomain}"

    def _notify(self, subdomain: str, reason: str) -> None:
        self._publish(subdomain, f"Reconnect {subdomain}.zendesk.com", (
            f"Round Robin for Zendesk can no longer use its connection to {subdomain}.zendesk.com ({reason}).\n"
            f"New tickets are acknowledged and parked, not assigned.\n\n"
            f"A Zendesk administrator of {subdomain} should reconnect by opening:\n{self._link(subdomain)}\n\n"
            "Parked tickets are assigned as soon as the account is reconnected."
        ))

    def _publish(self, subdomain: str, subject: str, message: str) -> None:
        if not self._topic_arn:
            return
        message += f"\n\nThe account's health in the console: {self.health_link(subdomain)}"
        try:
            self._sns.publish(TopicArn=self._topic_arn, Subject=subject[:100], Message=message)
        except (ClientError, BotoCoreError) as exc:  # the flag and the log line stand; the page is best effort
            logger.warning("could not notify operators", subdomain=subdomain, error=type(exc).__name__)
