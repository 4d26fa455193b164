"""The console's pages outside a session: the front door, the sign-in form, the refusals, and the 404 page."""

from __future__ import annotations

from round_robin.console.layout import esc, page

_SUBDOMAIN_FIELD = ('<input type=text name=subdomain required maxlength=100 placeholder="acme" '
                    'aria-label="Zendesk subdomain"> <span class=muted>.zendesk.com</span> ')


def _subdomain_form(action: str, button: str, landing: str | None = None) -> str:
    kept = f'<input type=hidden name=page value="{esc(landing)}">' if landing else ""
    return (f'<form method=get action="{action}" class=actions>{_SUBDOMAIN_FIELD}{kept}'
            f"<button type=submit>{button}</button></form>")


def home_page() -> str:
    """`GET /`: what this service is, with a form to connect an account and one to sign in."""
    body = (
        "<p>Round Robin for Zendesk assigns every new ticket to the next available agent of its group, in turn, "
        "without a Zendesk app. An administrator connects a Zendesk account once; the service then imports the "
        "agents and groups and sets up its webhooks and a trigger in that account.</p>"
        "<h2>Connect a Zendesk account</h2>"
        "<p>You need to be an administrator of the account. You will approve the connection in Zendesk.</p>"
        + _subdomain_form("/oauth/start", "Connect") +
        "<h2>Sign in to the console</h2>"
        "<p>Administrators of a connected account sign in with their Zendesk account to see the connection, the "
        "agents and every assignment.</p>"
        + _subdomain_form("/admin", "Sign in with Zendesk")
    )
    return page("Round Robin for Zendesk", body, account=None, csrf_token=None)


def sign_in_page(error: str | None = None, landing: str | None = None) -> str:
    """`GET /admin` without a session: the subdomain form that starts Sign in with Zendesk (then opens the console
    page `landing`, if given)."""
    body = f'<p class=error>{esc(error)}</p>' if error else ""
    body += ("<p>Sign in with your Zendesk administrator account. Zendesk asks you to allow read access once; "
             "Round Robin uses it only to check that you are an administrator of the account, and does not keep "
             "it.</p>" + _subdomain_form("/admin", "Sign in with Zendesk", landing))
    return page("Sign in", body, account=None, csrf_token=None)


def not_connected_page(subdomain: str) -> str:
    """Sign-in to an account the service does not serve: say so, and link to connecting it."""
    body = (f"<p>{esc(subdomain)}.zendesk.com is not connected to Round Robin, so there is nothing to sign in to "
            "yet.</p><p>An administrator of the account can connect it first:</p>"
            f'<p><a class=button href="/oauth/start?subdomain={esc(subdomain)}">Connect {esc(subdomain)}.zendesk.com'
            "</a></p>")
    return page("This account is not connected", body, account=None, csrf_token=None)


def refused_page(subdomain: str, user_name: str, role: str) -> str:
    """Signed in with Zendesk, but not an administrator of the account: 403."""
    body = (f"<p>You signed in to {esc(subdomain)}.zendesk.com as {esc(user_name or 'a user')} "
            f"(role: {esc(role)}). The Round Robin console is for the account's administrators only.</p>"
            "<p>Ask an administrator of the account to sign in, or to make you one in Zendesk Admin Center.</p>"
            '<p><a href="/">Back to the start page</a></p>')
    return page("Only administrators can sign in", body, account=None, csrf_token=None)


def message(title: str, *paragraphs: str, account: str | None = None, csrf_token: str | None = None) -> str:
    """A page of plain-text paragraphs (escaped), with a link back."""
    body = "".join(f"<p>{esc(p)}</p>" for p in paragraphs)
    body += '<p><a href="/admin/settings">Back to Settings</a></p>' if account else '<p><a href="/">Start page</a></p>'
    return page(title, body, account=account, csrf_token=csrf_token)


def not_found_page(path: str) -> str:
    """Any unknown path, for every method: a page, not JSON."""
    body = (f"<p>There is no page at <code>{esc(path[:200])}</code>.</p>"
            '<p>Try the <a href="/">start page</a>, or <a href="/admin">sign in to the console</a>.</p>')
    return page("Page not found", body, account=None, csrf_token=None)
