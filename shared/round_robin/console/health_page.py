"""The console's Health page (`/admin/health`): the page an admin lands on when something is wrong, and where the
operators' alerts link (accounts/alerts.py).

It shows the connection and its alerts (needs reconnecting and why, a token that will expire without refresh, the
connecting admin changed), the tickets waiting for an eligible agent with the oldest wait per group (the gsi1
`WAITING#<sub>` index: one counted Query and one one-item Query per group), the dead letters, and the last
maintenance run with its errors (maintenance.py records them on the account). The dead-letter queue is shared by
every account and its messages cannot be told apart without receiving them, so the page shows the queue's
approximate count, saying so. The account is always the signed-in one, passed in by the caller.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from round_robin.accounts.registry import CONNECTED, Account
from round_robin.console.fragments import esc, href, message, table, when

PATH = "/admin/health"


class Registry(Protocol):
    def get(self, subdomain: str) -> Account | None: ...


class Waiting(Protocol):
    def waiting_groups(self, subdomain: str) -> list[str]: ...

    def waiting(self, subdomain: str, group_id: str, *, limit: int | None = None,
                received_before: float | None = None) -> list[dict[str, Any]]: ...

    def waiting_count(self, subdomain: str, group_id: str | None = None) -> int: ...


class Rosters(Protocol):
    def group_names(self, subdomain: str) -> dict[str, str]: ...


DeadLetterCount = Callable[[], int | None]  # the assignment DLQ's approximate count (None: not known)


class HealthPage:
    """Reads and renders one account's health (see the module docstring)."""

    def __init__(self, *, registry: Registry, waiting: Waiting, rosters: Rosters,
                 dead_letters: DeadLetterCount) -> None:
        self._registry = registry
        self._waiting = waiting
        self._rosters = rosters
        self._dead_letters = dead_letters

    def render(self, subdomain: str, now: float) -> str:
        """The page's body (HTML)."""
        account = self._registry.get(subdomain)
        if account is None:
            return message(f"{subdomain} is not connected.", "error")
        return "\n".join([self._connection(account), self._waiting_tickets(subdomain, now),
                          self._dead_letter_part(), _maintenance(account)])

    def _connection(self, account: Account) -> str:
        reconnect = href("/oauth/start", {"subdomain": account.subdomain})
        alerts = []
        if account.status != CONNECTED:
            alerts.append(f"The connection to {account.subdomain}.zendesk.com is broken since {when(account.broken_at)}"
                          f" ({account.broken_reason or account.status}): new tickets are parked, not assigned, "
                          "until an administrator reconnects.")
        if account.expiry_warned_for:
            alerts.append(f"The token expires at {when(account.expiry_warned_for)} and cannot be refreshed: "
                          "reconnect before then.")
        if account.admin_event_at:
            alerts.append(f"Zendesk reported a change to the admin who connected the account "
                          f"({account.connected_user_name or account.connected_user_id}) at "
                          f"{when(account.admin_event_at)}.")
        items = "".join(f"<li>{esc(a)}</li>" for a in alerts) or "<li>No alert: the connection works.</li>"
        health = (f"{account.health or 'done'} at {when(account.health_checked_at)}" if account.health_checked_at
                  else "not yet (the next maintenance run checks it)")
        return (f'<h2>Connection</h2><ul class="{"alerts" if alerts else "ok"}">{items}</ul>'
                f"<p>Last health check: {esc(health)}. Connected by "
                f"{esc(account.connected_user_name or account.connected_user_id or 'unknown')} "
                f"on {esc(when(account.connected_at))}. <a href=\"{reconnect}\">Reconnect</a></p>")

    def _waiting_tickets(self, subdomain: str, now: float) -> str:
        total = self._waiting.waiting_count(subdomain)
        names = self._rosters.group_names(subdomain)
        rows = []
        for group_id in self._waiting.waiting_groups(subdomain):
            oldest = self._waiting.waiting(subdomain, group_id, limit=1)
            if not oldest:
                continue
            record = oldest[0]
            received = float(record.get("received_at", now))
            log = href("/admin/assignments", {"outcome": "waiting", "group": group_id})
            rows.append([f'<a href="{log}">{esc(names.get(group_id, group_id))}</a>',
                         str(self._waiting.waiting_count(subdomain, group_id)),
                         f"#{int(record['ticket_id'])}", esc(_minutes(now - received)),
                         esc(record.get("reason", ""))])
        summary = (f"{total} ticket{'s' if total != 1 else ''} waiting for an eligible agent." if total else
                   "No ticket is waiting for an agent.")
        return (f"<h2>Waiting tickets</h2><p>{esc(summary)}</p>"
                + (table(["Group", "Waiting", "Oldest", "Waiting for", "Why"], rows) if rows else ""))

    def _dead_letter_part(self) -> str:
        count = self._dead_letters()
        text = ("not known (the dead-letter queue is not configured)" if count is None else
                f"{count} message{'s' if count != 1 else ''} in the dead-letter queue")
        return (f"<h2>Dead letters</h2><p>{esc(text)}.</p><p class=\"hint\">The queue is shared by every account "
                "this service connects, so this count may include other accounts' tickets. Each maintenance run "
                "deletes those whose ticket has been assigned since.</p>")


def _maintenance(account: Account) -> str:
    if account.health_checked_at is None:
        return "<h2>Maintenance</h2><p>No maintenance run yet.</p>"
    counts = account.last_maintenance or {}
    facts = ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in counts.items() if k != "errors")
    errors = "".join(f"<li>{esc(e)}</li>" for e in account.last_maintenance_errors)
    if not errors and counts.get("errors"):
        errors = f"<li>{int(counts['errors'])} error(s), not recorded in detail.</li>"
    return (f"<h2>Maintenance</h2><p>Last run: {esc(when(account.health_checked_at))}"
            f"{': ' + esc(facts) if facts else ''}. Last token refresh: "
            f"{esc(when(account.last_refresh_at)) if account.last_refresh_at else 'not yet'}.</p>"
            + (f'<p>Errors of the last run:</p><ul class="alerts">{errors}</ul>' if errors else
               "<p>The last run had no errors.</p>"))


def _minutes(seconds: float) -> str:
    minutes = max(0, int(seconds // 60))
    if minutes < 120:
        return f"{minutes} min"
    hours = minutes // 60
    return f"{hours} h {minutes % 60} min" if hours < 48 else f"{hours // 24} days"
