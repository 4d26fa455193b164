"""The sandbox's HTML pages: the list of accounts, an account's tickets, and the form that creates a ticket
as a customer would (the OAuth consent page is in oauth.py)."""

from __future__ import annotations

from html import escape
from typing import TYPE_CHECKING

from werkzeug.wrappers import Request, Response

if TYPE_CHECKING:
    from round_robin_local.sandbox.model import Account, Sandbox
    from round_robin_local.sandbox.tickets import Tickets


def page(title: str, body: str, status: int = 200) -> Response:
    html = (f"<!doctype html><html><head><meta charset=utf-8><title>{escape(title)}</title>"
            "<style>body{font-family:system-ui,sans-serif;max-width:44rem;margin:2rem auto;padding:0 1rem}"
            "button{font-size:1rem;padding:.4rem 1rem;margin-right:.5rem}td,th{padding:.2rem .6rem;text-align:left}"
            f"</style></head><body><p><em>Zendesk sandbox</em></p><h1>{escape(title)}</h1>{body}</body></html>")
    return Response(html, status=status, content_type="text/html; charset=utf-8")


def index(sandbox: Sandbox) -> Response:
    with sandbox.lock:
        links = "".join(f'<li><a href="/{s}/">{escape(s)}</a></li>' for s in sandbox.accounts)
    return page("Accounts", f"<ul>{links}</ul>")


def account_page(sandbox: Sandbox, account: Account) -> Response:
    with sandbox.lock:
        names = {u["id"]: u["name"] for u in account.users.values()}
        groups = {g["id"]: g["name"] for g in account.groups.values()}
        rows = "".join(
            f"<tr><td>#{t['id']}</td><td>{escape(t['subject'])}</td><td>{escape(groups.get(t['group_id'], '-'))}</td>"
            f"<td>{escape(t['status'])}</td><td>{escape(names.get(t['assignee_id'], 'unassigned'))}</td></tr>"
            for t in sorted(account.tickets.values(), key=lambda t: -t["id"])
        )
    body = (f'<p><a href="/{account.subdomain}/tickets/new">New ticket</a></p>'
            f"<table><tr><th>Ticket</th><th>Subject</th><th>Group</th><th>Status</th><th>Assignee</th></tr>"
            f"{rows}</table>")
    return page(f"{account.subdomain} tickets", body)


def new_ticket_page(sandbox: Sandbox, tickets: Tickets, request: Request, account: Account) -> Response:
    if request.method == "POST":
        with sandbox.lock:
            spec = {"subject": request.form.get("subject"), "comment": {"body": request.form.get("body", "")},
                    "group_id": request.form.get("group_id") or None}
            tickets.create(account, spec, account.signed_in_user_id or 0, channel="web")
        return Response(status=303, headers={"Location": f"/{account.subdomain}/"})
    with sandbox.lock:
        options = "".join(f'<option value="{g["id"]}">{escape(g["name"])}</option>'
                          for g in account.groups.values() if not g["deleted"])
    body = ("<form method=post><p><label>Subject <input name=subject required></label></p>"
            f"<p><label>Group <select name=group_id><option value=''>(none)</option>{options}</select></label></p>"
            "<p><label>Description<br><textarea name=body rows=4 cols=50></textarea></label></p>"
            "<button>Submit</button></form>")
    return page("New ticket", body)
