"""The small HTML pages an admin sees at the end of the connect flow."""

from __future__ import annotations

from html import escape
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # a type only: the connect link's function (pages only) does not load the connect machinery
    from round_robin.assignment.import_job import ImportProgress
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


REFRESH_SECONDS = 3  # how often an import's page reloads itself while the import runs
# The progress page's address, relative to /oauth/callback and to itself: /oauth/import?id=<the import's id>
IMPORT_PAGE = "import?id="


def render(title: str, body: str, *, refresh_to: str | None = None) -> str:
    """A page; `refresh_to`: reload that address every REFRESH_SECONDS (a meta refresh: no script needed)."""
    refresh = (f'<meta http-equiv="refresh" content="{REFRESH_SECONDS};url={escape(refresh_to)}">'
               if refresh_to else "")
    return (
        f"<!doctype html><html lang=en><head><meta charset=utf-8>{refresh}<title>{escape(title)}</title>"
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
    if report.import_id is not None:
        link = IMPORT_PAGE + report.import_id
        agents = (_import_section(report.import_progress, link) if report.import_progress else
                  f'<p>Importing agents and groups. <a href="{escape(link)}">See the import</a>.</p>')
    else:
        link = None
        rows = []
        for roster in report.rosters:
            names = ", ".join(m.name for m in roster.members) or "no eligible agents"
            rows.append(f"<tr><td>{escape(roster.group_name)}</td><td>{len(roster.members)}</td>"
                        f"<td>{escape(names)}</td></tr>")
        agents = ("<h2>Rotation rosters</h2><table><tr><th>Group</th><th>Agents</th><th>In rotation order</th></tr>"
                  + "".join(rows) + "</table>")
    body = (
        f"<p>{escape(intro)}</p>"
        + agents +
        "<h2>In Zendesk</h2>"
        f"<ul><li>Webhook &ldquo;Round Robin for Zendesk&rdquo;: {escape(report.webhook_action)}</li>"
        f"<li>Webhook &ldquo;Round Robin for Zendesk: events&rdquo; (agent statuses, changes to people and tickets): "
        f"{escape(report.events_webhook_action)}</li>"
        f"<li>Trigger for new unassigned tickets: {escape(report.trigger_action)}</li></ul>"
        "<p class=muted>New tickets without an assignee are now assigned to the next agent of their group. "
        "You can close this page.</p>"
    )
    return render(f"Round Robin is {verb}", body, refresh_to=link)


def import_page(progress: ImportProgress, import_id: str, now: float) -> str:
    """An agent import's page: its counts while it runs (the page reloads itself), then what was imported."""
    account = f"{progress.subdomain}.zendesk.com"
    if progress.done:
        rows = "".join(f"<tr><td>{escape(name)}</td><td>{agents}</td></tr>" for name, agents in progress.rosters)
        more = progress.roster_count - len(progress.rosters)
        summary = (f"{progress.in_rotation:,} agents of {account} are in rotation, in {progress.roster_count:,} "
                   f"group(s); {progress.agents:,} eligible agents read.")
        body = (
            f"<p>{escape(summary)}</p>"
            "<table><tr><th>Group</th><th>Agents in rotation</th></tr>" + rows + "</table>"
            + (f"<p class=muted>and {more:,} more group(s).</p>" if more > 0 else "")
            + "<p class=muted>New tickets without an assignee are assigned to the next agent of their group. "
            "You can close this page.</p>"
        )
        return render("Agents imported", body)
    link = IMPORT_PAGE + import_id
    if progress.stalled(now):
        return render("The agent import stopped", (
            f"<p>{escape(_counts(progress))}</p>"
            f"<p>{escape('Last error: ' + (progress.error or 'none recorded'))}.</p>"
            f"<p>{escape(account)} is connected; the next scheduled maintenance imports its agents (within its "
            "interval, 10 minutes by default), or open the connect link again to import them now.</p>"))
    return render(f"Importing the agents of {account}", _import_section(progress, link), refresh_to=link)


def _import_section(progress: ImportProgress, link: str) -> str:
    retrying = (f"<p class=muted>{escape('Retrying after: ' + progress.error)}</p>" if progress.error else "")
    return (
        "<h2>Importing agents</h2>"
        f"<p>{escape(_counts(progress))}</p>{retrying}"
        f'<p class=muted>Tickets are assigned meanwhile. This page follows the import: '
        f'<a href="{escape(link)}">see its progress</a>.</p>'
    )


def _counts(progress: ImportProgress) -> str:
    return (f"So far {progress.agents:,} agents and {progress.groups:,} groups imported from "
            f"{progress.subdomain}.zendesk.com ({progress.memberships:,} group memberships, "
            f"{progress.pages:,} pages read).")
