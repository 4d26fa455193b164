"""The small HTML pages an admin sees at the end of the connect flow."""

from __future__ import annotations

from html import escape
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # a type only: the connect link's function (pages only) does not load the connect machinery
    from round_robin.connect.connections import ConnectionReport

# No referrer: the callback URL carries the authorization code and state.
HEADERS = {
    "Content-Type": "text/html; charset=utf-8",
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'",
}

# Zendesk lets only a token with the broad `write` scope revoke OAuth tokens (Zendesk developer advocacy,
# support.zendesk.com/hc/en-us/community/posts/4627188332186); the service asks for less, so it cannot revoke a
# grant it does not keep. Admins revoke tokens at this place (support.zendesk.com/hc/en-us/articles/8889508417946).
REVOKE_IN_ADMIN_CENTER = "Admin Center > Apps and integrations > APIs > OAuth clients"
UNUSED_GRANT = (
    "The access granted in Zendesk was never stored and cannot be used by anyone; it expires with its "
    f"lifetime. An administrator can revoke it now in {REVOKE_IN_ADMIN_CENTER} (the client's tokens)."
)

_STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:46rem;margin:3rem auto;padding:0 1rem;color:#1f2328}"
    "h1{font-size:1.5rem}table{border-collapse:collapse}td,th{padding:.3rem .8rem;border-bottom:1px solid #ddd;"
    "text-align:left;vertical-align:top}.muted{color:#656d76}"
)


def render(title: str, body: str) -> str:
    return (
        f"<!doctype html><html lang=en><head><meta charset=utf-8><title>{escape(title)}</title>"
        f"<style>{_STYLE}</style></head><body><h1>{escape(title)}</h1>{body}</body></html>"
    )


def message_page(title: str, *paragraphs: str) -> str:
    """A page of plain-text paragraphs (escaped)."""
    return render(title, "".join(f"<p>{escape(p)}</p>" for p in paragraphs))


def connected_page(report: ConnectionReport) -> str:
    """The confirmation: who connected, what was imported, what was set up in Zendesk."""
    verb = "reconnected" if report.reconnected else "connected"
    intro = f"{report.subdomain}.zendesk.com is {verb} by {report.user_name}."
    if report.previous_auth_method == "api_token" and report.auth_method == "oauth":
        intro += " It now uses OAuth; the stored API token was deleted."
    if report.reconnected and report.previous_auth_method == "oauth":
        intro += (" The access granted by the previous connection is no longer stored; it expires with its lifetime, "
                  f"or an administrator can revoke it in {REVOKE_IN_ADMIN_CENTER}.")
    if report.requeued:
        intro += f" {report.requeued} ticket(s) parked while the connection was broken are being assigned now."
    rows = []
    for roster in report.rosters:
        names = ", ".join(m.name for m in roster.members) or "no eligible agents"
        rows.append(f"<tr><td>{escape(roster.group_name)}</td><td>{len(roster.members)}</td><td>{escape(names)}</td></tr>")
    body = (
        f"<p>{escape(intro)}</p>"
        "<h2>Rotation rosters</h2><table><tr><th>Group</th><th>Agents</th><th>In rotation order</th></tr>"
        + "".join(rows)
        + "</table>"
        "<h2>In Zendesk</h2>"
        f"<ul><li>Webhook &ldquo;Round Robin for Zendesk&rdquo;: {escape(report.webhook_action)}</li>"
        f"<li>Webhook &ldquo;Round Robin for Zendesk: events&rdquo; (agent statuses, changes to people and tickets): "
        f"{escape(report.events_webhook_action)}</li>"
        f"<li>Trigger for new unassigned tickets: {escape(report.trigger_action)}</li></ul>"
        "<p class=muted>New tickets without an assignee are now assigned to the next agent of their group. "
        "You can close this page.</p>"
    )
    return render(f"Round Robin is {verb}", body)
