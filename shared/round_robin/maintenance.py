"""The scheduled upkeep of every connected account (refresh_tokens, run by EventBridge Scheduler):

1. tokens: refresh the access token if it expires before the next run plus a margin, and the refresh token
   once it has lived two thirds of its lifetime even if the account is idle (Zendesk drops refresh tokens
   unused for 30 days);
2. health: /api/v2/users/me must answer, for an admin; otherwise the account needs reconnecting;
3. agents: re-import the rosters (leavers, suspended and demoted agents drop out; newcomers join at the end);
4. the missed-ticket sweep: unassigned new/open tickets older than a few minutes are queued through the same
   idempotent path as webhooks, so a ticket whose webhook never came is still assigned, once.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from round_robin.accounts.alerts import ConnectionAlerts
from round_robin.accounts.registry import CONNECTED, Account, AccountRegistry
from round_robin.accounts.tokens import TokenManager
from round_robin.assignment.claims import AssignmentStore
from round_robin.assignment.roster_import import import_rosters
from round_robin.assignment.rosters import RosterStore
from round_robin.aws.queue import AssignmentQueue, AssignmentRequest
from round_robin.errors import (
    ConnectionBrokenError,
    OAuthError,
    OAuthUnavailableError,
    StorageError,
    ZendeskError,
    ZendeskUnauthorizedError,
)
from round_robin.observability import MetricUnit, logger, metrics
from round_robin.zendesk.client import ZendeskClient, ZendeskFactory

REFRESH_MARGIN = 300.0  # refresh when the access token would expire within the next run + this
REFRESH_TOKEN_AGE = 2 / 3  # of its lifetime
SWEEP_PAGES = 10  # search pages (100 tickets each) per account per run
# A token without refresh token (made by the migration) dies at its expiry: the operators are told this long
# before, once. Two weeks leave room for an administrator's holiday; reconnecting itself takes a minute.
EXPIRY_WARNING = 14 * 86400.0


@dataclass
class AccountReport:
    subdomain: str
    status: str
    refreshed: bool = False
    health: str = ""
    roster_changes: dict[str, int] = field(default_factory=dict)
    swept: int = 0
    errors: list[str] = field(default_factory=list)


class Maintainer:
    def __init__(
        self,
        *,
        registry: AccountRegistry,
        tokens: TokenManager,
        rosters: RosterStore,
        assignments: AssignmentStore,
        queue: AssignmentQueue,
        alerts: ConnectionAlerts,
        zendesk: ZendeskFactory,
        interval: float,
        sweep_min_age: float,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._registry = registry
        self._tokens = tokens
        self._rosters = rosters
        self._assignments = assignments
        self._queue = queue
        self._alerts = alerts
        self._zendesk = zendesk
        self._interval = interval
        self._sweep_min_age = sweep_min_age
        self._clock = clock

    def run(self, subdomains: Iterable[str] | None = None, *, deadline: float | None = None) -> list[dict[str, Any]]:
        """Maintain every connected account (or the given ones); one account's failure never stops the rest."""
        wanted = set(subdomains) if subdomains is not None else None
        reports = []
        for account in self._registry.list():
            if wanted is not None and account.subdomain not in wanted:
                continue
            if account.status != CONNECTED:
                reports.append(asdict(AccountReport(account.subdomain, account.status)))
                continue
            if deadline is not None and time.monotonic() > deadline:
                logger.warning("maintenance stopped before the function's timeout", next_account=account.subdomain)
                break
            reports.append(asdict(self.maintain(account)))
        return reports

    def maintain(self, account: Account) -> AccountReport:
        subdomain = account.subdomain
        report = AccountReport(subdomain, CONNECTED)
        try:
            report.refreshed = self._upkeep_tokens(subdomain)
            client = self._zendesk(subdomain, lambda: self._tokens.authorization(subdomain))
            report.health = self._check_health(subdomain, client)
            if report.health != "ok":
                report.status = "needs_reconnect"
                return report
            report.roster_changes = self._resync(account, client)
            report.swept = self._sweep(subdomain, client)
        except ConnectionBrokenError as exc:
            self._alerts.broken(subdomain, exc.reason)
            report.status, report.health = "needs_reconnect", exc.reason
        except (OAuthError, OAuthUnavailableError, ZendeskError, StorageError) as exc:
            # Transient (Zendesk down, throttled storage): the account stays connected; the next run retries.
            report.errors.append(f"{type(exc).__name__}: {exc}")
            logger.warning("maintenance incomplete", subdomain=subdomain, error=str(exc))
        finally:
            self._registry.record_maintenance(subdomain, self._clock(), refreshed=report.refreshed,
                                              health=report.health or ("error" if report.errors else "ok"))
        return report

    def _upkeep_tokens(self, subdomain: str) -> bool:
        credentials = self._tokens.stored(subdomain)
        tokens = credentials.tokens
        if credentials.auth_method != "oauth" or tokens is None:
            return False  # API-token accounts have nothing to refresh
        now = self._clock()
        if not tokens.refresh_token:  # made by the migration: nothing to refresh with; warn before it expires
            if tokens.access_expires_at is not None and tokens.access_expires_at - now <= EXPIRY_WARNING:
                self._alerts.expiring(subdomain, tokens.access_expires_at)
            return False
        access_due = tokens.access_expires_at is not None and \
            tokens.access_expires_at <= now + self._interval + REFRESH_MARGIN
        refresh_due = tokens.refresh_token_age(now) >= REFRESH_TOKEN_AGE
        if not (access_due or refresh_due):
            return False
        self._tokens.refresh(subdomain, credentials.fingerprint())  # counts TokenRefreshed / ...Failed
        return True

    def _check_health(self, subdomain: str, client: ZendeskClient) -> str:
        try:
            me = client.me()
        except ZendeskUnauthorizedError as exc:
            me = self._tokens.after_unauthorized(subdomain, exc.credential, client.me)
        if me.get("role") != "admin" or not me.get("active", True):
            raise ConnectionBrokenError(subdomain, "not_admin")
        return "ok"

    def _resync(self, account: Account, client: ZendeskClient) -> dict[str, int]:
        before = {r.group_id: {m.id for m in r.members} for r in self._rosters.list(account.subdomain)}
        stored = self._rosters.sync(account.subdomain, import_rosters(client, account.excluded_agent_ids),
                                    self._clock())
        after = {r.group_id: {m.id for m in r.members} for r in stored}
        joined = sum(len(ids - before.get(g, set())) for g, ids in after.items())
        left = sum(len(ids - after.get(g, set())) for g, ids in before.items())
        if joined or left:
            logger.info("rosters re-synced", subdomain=account.subdomain, joined=joined, left=left)
        return {"joined": joined, "left": left, "groups": len(stored) - 1}

    def _sweep(self, subdomain: str, client: ZendeskClient) -> int:
        now = self._clock()
        cutoff = datetime.fromtimestamp(now - self._sweep_min_age, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        query = f"type:ticket status<solved assignee:none created<{cutoff}"
        ticket_ids: list[int] = []
        page: dict[str, Any] = client.get("/api/v2/search.json", {"query": query})
        for _ in range(SWEEP_PAGES):
            ticket_ids += [r["id"] for r in page.get("results", []) if r.get("result_type", "ticket") == "ticket"]
            if not page.get("next_page"):
                break
            page = client.get(page["next_page"])
        waiting = self._assignments.unfinished(subdomain, ticket_ids)
        for ticket_id in waiting:
            self._queue.send(AssignmentRequest(subdomain=subdomain, ticket_id=ticket_id, source="sweep",
                                               received_at=now))
        if waiting:
            metrics.add_metric(name="TicketsSwept", unit=MetricUnit.Count, value=len(waiting))
            logger.warning("tickets without a webhook queued", subdomain=subdomain, tickets=waiting)
        return len(waiting)

