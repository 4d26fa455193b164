"""The Settings page (`/admin/settings`): the connection, Reconnect, Migrate to OAuth, Import agents now, the
per-account switches, and the warning about the connecting admin. Rendering and form parsing only."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from round_robin.availability.errors import InvalidInputError
from round_robin.availability.model import REASSIGN_POLICIES, TICKET_STATUSES, AccountPolicy
from round_robin.availability.validation import (
    parse_cap,
    parse_counted_statuses,
    parse_minutes,
    parse_reassign,
    parse_status_map,
)
from round_robin.console.fragments import href
from round_robin.console.layout import esc, page

if TYPE_CHECKING:  # types only: the console's cold start loads the Zendesk client and the import at first use
    from round_robin.connect.migration import MigrationReport
    from round_robin.console.account_settings import Connection, ImportSummary, SwitchesSaved
    from round_robin.console.http import Form
    from round_robin.console.sessions import Session

_ON_OFF = {"on": True, "off": False}
_REASSIGN_LABELS = {"off": "nothing (their tickets stay with them)", "new": "their new tickets",
                    "open": "their new and open tickets"}
_SWITCH_LABELS = {"zendesk_status": "Zendesk's agent status", "status_map": "Zendesk statuses",
                  "ooo_app": "Out of Office app", "open_cap": "open tickets cap", "daily_cap": "tickets a day cap",
                  "counted_statuses": "counted statuses", "reassign": "what going out of office reassigns",
                  "waiting_alert_minutes": "waiting alert"}
_HEALTH_LABELS = {"ok": "healthy", "not_admin": "the connecting user is no longer an administrator",
                  "unauthorized": "Zendesk refuses the stored credentials"}


def when(epoch: float | None, now: float, never: str = "unknown") -> str:
    """A time as UTC with how far it is from now, or `never` when there is none."""
    if not epoch:
        return never
    stamp = datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M UTC")
    delta = int(epoch - now)
    span = abs(delta)
    if span < 60:
        return f"{stamp} (just now)"
    words = (f"{span // 86400} days" if span >= 2 * 86400 else f"{span // 3600} hours" if span >= 7200
             else f"{span // 60} minutes")
    return f"{stamp} ({'in ' + words if delta >= 0 else words + ' ago'})"


def parse_switches(form: Form) -> dict[str, Any]:
    """The switches form as AccountPolicy fields; InvalidInputError naming the first bad field (nothing stored)."""
    given: dict[str, Any] = {}
    for name, label in (("zendesk_status", "Follow Zendesk's agent status"), ("ooo_app", "Follow Out of Office")):
        value = (form.get(name) or "").strip().lower()
        if value not in _ON_OFF:
            raise InvalidInputError(f"{label} must be on or off")
        given[name] = _ON_OFF[value]
    given["reassign"] = parse_reassign(form.get("reassign") or "")
    for name, label in (("open_cap", "Open tickets at most"), ("daily_cap", "Tickets a day at most")):
        raw = (form.get(name) or "").strip()
        try:
            given[name] = parse_cap(raw or None)
        except InvalidInputError as exc:
            raise InvalidInputError(f"{label}: {exc}") from None
    given["counted_statuses"] = parse_counted_statuses(form.getlist("counted_statuses"))
    given["waiting_alert_minutes"] = parse_minutes(form.get("waiting_alert_minutes") or "")
    lines = [line for line in (form.get("status_map") or "").splitlines() if line.strip()]
    given["status_map"] = parse_status_map(lines)
    return given


def render(session: Session, connection: Connection, policy: AccountPolicy, now: float, *,
           notice: str | None = None, error: str | None = None, imported: ImportSummary | None = None,
           migrated: MigrationReport | None = None, saved: SwitchesSaved | None = None,
           form_policy: AccountPolicy | None = None) -> str:
    """The whole Settings page for the signed-in account."""
    parts = [f"<p class=muted>Signed in as {esc(session.name or session.user_id)} (administrator) until "
             f"{esc(when(session.expires_at, now))}.</p>"]
    if error:
        parts.append(f"<div class=error role=alert>{esc(error)}</div>")
    if notice:
        parts.append(f"<div class=notice role=status>{esc(notice)}</div>")
    if migrated is not None:
        parts.append(_migrated(migrated))
    if imported is not None:
        parts.append(_imported(imported))
    if saved is not None:
        parts.append(_saved(saved))
    parts.append(_connection(session, connection, now))
    parts.append(_switches(session, form_policy or policy))
    return page("Settings", "".join(parts), account=session.subdomain, csrf_token=session.csrf_token,
                active="settings")


def _csrf(session: Session) -> str:
    return f'<input type=hidden name=csrf_token value="{esc(session.csrf_token)}">'


def _connection(session: Session, connection: Connection, now: float) -> str:
    account, credentials = connection.account, connection.credentials
    sub = account.subdomain
    method = credentials.auth_method if credentials else account.auth_method
    tokens = credentials.tokens if credentials else None
    if method == "oauth":
        auth = "OAuth"
        access = when(tokens.access_expires_at, now) if tokens and tokens.access_expires_at else "does not expire"
        refresh = (when(tokens.refresh_expires_at, now) if tokens and tokens.refresh_expires_at
                   else "none: this token is not rotated (a migrated token); Reconnect gives a rotating pair"
                   if tokens and not tokens.refresh_token else "does not expire")
    else:
        email = credentials.api_email if credentials else None
        auth = "API token" + (f" of {email}" if email else "")
        access = refresh = "not applicable (an API token does not expire, but Zendesk is retiring them for apps)"
    status = ('<span class=ok>connected</span>' if account.status == "connected"
              else f'<span class=bad>needs reconnecting</span> ({esc(account.broken_reason or "unknown reason")}, '
                   f'{esc(when(account.broken_at, now))})')
    health = account.health
    health_text = ("not checked yet" if not health else
                   f'<span class={"ok" if health == "ok" else "bad"}>{esc(_HEALTH_LABELS.get(health, health))}</span>'
                   f" at {esc(when(account.health_checked_at, now))}")
    hooks = [("Webhook for new tickets", account.webhook_id), ("Webhook for events", account.events_webhook_id),
             ("Trigger for new unassigned tickets", account.trigger_id)]
    hook_rows = "".join(
        f"<tr><th>{label}</th><td>" + (f'<span class=ok>set up</span> <span class=muted>(id {esc(ident)})</span>'
                                       if ident else '<span class=bad>missing</span>') + "</td></tr>"
        for label, ident in hooks)
    verified = ('<span class=muted>(as recorded by the last maintenance run, which recreates a missing one)</span>'
                if account.health_checked_at else "")
    name = esc(account.connected_user_name or "the connecting administrator")
    who = name + (f' <span class=muted>(user {esc(account.connected_user_id)})</span>'
                  if account.connected_user_id else "")
    rows = (
        f"<tr><th>Account</th><td>{esc(sub)}.zendesk.com</td></tr>"
        f"<tr><th>Status</th><td>{status}</td></tr>"
        f"<tr><th>Authentication</th><td>{esc(auth)}</td></tr>"
        f"<tr><th>Connected by</th><td>{who}, administrator when connecting, on "
        f"{esc(when(account.connected_at, now))}</td></tr>"
        f"<tr><th>Access token expires</th><td>{esc(access)}</td></tr>"
        f"<tr><th>Refresh token expires</th><td>{esc(refresh)}</td></tr>"
        f"<tr><th>Last token refresh</th><td>{esc(when(account.last_refresh_at, now, 'not yet'))}</td></tr>"
        f"<tr><th>Last health check</th><td>{health_text}</td></tr>"
        + hook_rows
    )
    actions = (f'<a class="button secondary" href="/oauth/start?subdomain={esc(sub)}">Reconnect</a>'
               f"<form class=inline method=post action=/admin/import>{_csrf(session)}"
               "<button type=submit>Import agents now</button></form>")
    if method == "api_token":
        actions += (f"<form class=inline method=post action=/admin/migrate>{_csrf(session)}"
                    "<button type=submit>Migrate to OAuth authentication method</button></form>")
    warning = (
        "<div class=warning><strong>The connection depends on the administrator who connected it.</strong> "
        f"Round Robin acts in Zendesk with {name}'s access: if they stop being an administrator, are suspended or "
        "leave, assignment stops until someone reconnects. Connect with a dedicated integration administrator "
        "(an admin account used only for integrations), not a person's own account.</div>"
    )
    return (f"<h2>Connection</h2><table class=facts>{rows}</table>"
            f"<p class=muted>{verified}</p><div class=actions>{actions}</div>{warning}")


def _switches(session: Session, policy: AccountPolicy) -> str:
    def on_off(name: str, value: bool) -> str:
        options = "".join(f'<option value={v}{" selected" if (v == "on") == value else ""}>{v}</option>'
                          for v in ("on", "off"))
        return f"<select name={name} id={name}>{options}</select>"

    reassign = "".join(f'<option value={v}{" selected" if v == policy.reassign else ""}>{esc(_REASSIGN_LABELS[v])}'
                       "</option>" for v in REASSIGN_POLICIES)
    counted = "".join(
        f'<label><input type=checkbox name=counted_statuses value={s}'
        f'{" checked" if s in policy.counted_statuses else ""}> {s}</label>' for s in TICKET_STATUSES)
    status_map = "\n".join(f"{name}={value}" for name, value in sorted(policy.status_map.items()))

    def cap(value: int | None) -> str:
        return "" if value is None else str(value)

    return (
        "<h2>Switches</h2><form method=post action=/admin/settings>" + _csrf(session) +
        "<fieldset><legend>Availability sources</legend>"
        "<p><label for=zendesk_status>Follow Zendesk's agent status</label> "
        f"{on_off('zendesk_status', policy.zendesk_status)}"
        " <span class=muted>(online agents are available; the map below says how each status counts)</span></p>"
        f"<p><label for=status_map>Zendesk statuses</label><br><textarea name=status_map id=status_map rows=5 cols=40>"
        f"{esc(status_map)}</textarea><br><span class=muted>One per line: <code>status name=available</code> or "
        "<code>=away</code>; custom statuses too. Unlisted statuses count as away.</span></p>"
        f"<p><label for=ooo_app>Follow the Out of Office app</label> {on_off('ooo_app', policy.ooo_app)}</p>"
        "</fieldset><fieldset><legend>Caps (account defaults; each agent can have their own)</legend>"
        f"<p><label for=open_cap>Open tickets at most</label> <input type=text name=open_cap id=open_cap "
        f'value="{cap(policy.open_cap)}" placeholder="no cap" size=8>'
        f" <label for=daily_cap>Tickets a day at most</label> <input type=text name=daily_cap id=daily_cap "
        f'value="{cap(policy.daily_cap)}" placeholder="no cap" size=8></p>'
        f"<p>The open-tickets cap counts tickets that are {counted}</p>"
        "</fieldset><fieldset><legend>Absence</legend>"
        f"<p><label for=reassign>When an agent goes out of office, reassign</label> <select name=reassign id=reassign>"
        f"{reassign}</select></p>"
        f"<p><label for=waiting_alert_minutes>Alert when a ticket waits longer than</label> <input type=number "
        f'name=waiting_alert_minutes id=waiting_alert_minutes min=1 value="{policy.waiting_alert_minutes}"> minutes '
        "for an eligible agent</p></fieldset>"
        "<button type=submit>Save switches</button></form>"
    )


def _imported(summary: ImportSummary) -> str:
    if summary.import_id is not None:
        link = href("/oauth/import", {"id": summary.import_id})
        return ("<div class=notice role=status><p><strong>The import goes on in the background</strong>: this "
                f'account has more agents than one page can read in time. <a href="{link}">Follow its progress'
                "</a>; the rotations change once every page is read.</p></div>")
    if not summary.changed:
        head = f"Agents imported from Zendesk: nothing changed ({summary.agents} agents in rotation)."
    else:
        head = f"Agents imported from Zendesk: {summary.agents} agents in rotation."
    rows = "".join(
        f"<tr><td>{esc(g.group_name)}</td><td>{g.members}</td><td>{esc(', '.join(g.joined) or '-')}</td>"
        f"<td>{esc(', '.join(g.left) or '-')}</td></tr>" for g in summary.groups)
    extra = ""
    if summary.added_groups:
        extra += f"<p>New groups: {esc(', '.join(summary.added_groups))}</p>"
    if summary.removed_groups:
        extra += f"<p>Groups no longer in Zendesk (removed): {esc(', '.join(summary.removed_groups))}</p>"
    return (f"<div class=notice role=status><p><strong>{esc(head)}</strong></p>{extra}<table><tr><th>Group</th>"
            f"<th>Agents</th><th>Joined</th><th>Left</th></tr>{rows}</table></div>")


def _migrated(report: MigrationReport) -> str:
    if not report.changed:
        return f"<div class=notice role=status>{esc(report.subdomain)}: {esc(report.detail)}.</div>"
    client = f"OAuth client {report.oauth_client} ({'created' if report.client_created else 'found'})"
    return (f"<div class=notice role=status><strong>Migrated to OAuth.</strong> {esc(report.subdomain)} "
            f"{esc(report.detail)}; {esc(client)}. The API token is no longer stored. Verify the new connection "
            "with Import agents now.</div>")


def _saved(saved: SwitchesSaved) -> str:
    what = ", ".join(_SWITCH_LABELS.get(k, k) for k in saved.changed) if saved.changed else "nothing changed"
    text = f"Switches saved ({what})."
    if not saved.announced:
        text += " The service will apply them at its next maintenance run (the events queue could not be reached)."
    return f"<div class=notice role=status>{esc(text)}</div>"
