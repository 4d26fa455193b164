"""What a browser does in the connect flow: follow the redirect to Zendesk, answer the consent page, follow
the redirect back. Every hop is checked, and the values that must stay secret are captured for the log test."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

import requests

from round_robin_local.demo import _FormFields


@dataclass
class Connection:
    page: requests.Response
    code: str | None
    state: str


def connect(stack_url: str, subdomain: str, *, decision: str = "allow", user_id: int | None = None) -> Connection:
    session = requests.Session()
    back = approve(session, stack_url, subdomain, decision=decision, user_id=user_id)
    query = {k: v[0] for k, v in parse_qs(urlsplit(back).query).items()}
    page = session.get(back, allow_redirects=False, timeout=60)
    return Connection(page, query.get("code"), query["state"])


def approve(session: requests.Session, stack_url: str, subdomain: str, *, decision: str = "allow",
            user_id: int | None = None) -> str:
    """Start, answer the consent page; return the callback URL Zendesk redirects back to (not yet followed)."""
    start = session.get(f"{stack_url}/oauth/start", params={"subdomain": subdomain}, allow_redirects=False,
                        timeout=30)
    assert start.status_code == 302, start.text
    authorize = start.headers["Location"]
    consent = session.get(authorize, allow_redirects=False, timeout=30)
    assert consent.status_code == 200 and "Allow" in consent.text
    form = _FormFields()
    form.feed(consent.text)
    fields = {**form.fields, "decision": decision}
    if user_id is not None:
        fields["user_id"] = str(user_id)
    approved = session.post(authorize.split("?", 1)[0], data=fields, allow_redirects=False, timeout=30)
    assert approved.status_code == 302
    back = approved.headers["Location"]
    assert back.startswith(f"{stack_url}/oauth/callback?")
    return back


class Console:
    """The admin console over HTTP with one session cookie. `requests` would not send a Secure cookie over
    http://127.0.0.1 (a browser would: tests/e2e/test_console_browser.py), so the cookie is sent by hand."""

    def __init__(self, stack_url: str, cookie: str) -> None:
        self.url = stack_url
        self.http = requests.Session()
        self.http.headers["Cookie"] = cookie

    def csrf_token(self) -> str:
        page = self.http.get(f"{self.url}/admin/settings", allow_redirects=False, timeout=30)
        assert page.status_code == 200, page.text
        start = page.text.index('name=csrf_token value="') + len('name=csrf_token value="')
        return page.text[start:page.text.index('"', start)]

    def post(self, path: str, form: dict) -> requests.Response:
        return self.http.post(f"{self.url}{path}", data={**form, "csrf_token": self.csrf_token()},
                              allow_redirects=False, timeout=60)


def sign_in(stack_url: str, subdomain: str) -> Console:
    """Sign in to the console as the sandbox's admin: /admin?subdomain=, the consent page, the callback."""
    session = requests.Session()
    start = session.get(f"{stack_url}/admin", params={"subdomain": subdomain}, allow_redirects=False, timeout=30)
    assert start.status_code == 303, start.text
    authorize = start.headers["Location"]
    consent = session.get(authorize, allow_redirects=False, timeout=30)
    form = _FormFields()
    form.feed(consent.text)
    approved = session.post(authorize.split("?", 1)[0], data={**form.fields, "decision": "allow"},
                            allow_redirects=False, timeout=30)
    binding = start.headers["Set-Cookie"].split(";", 1)[0]  # the sign-in's browser binding, sent back by hand
    back = session.get(approved.headers["Location"], headers={"Cookie": binding}, allow_redirects=False, timeout=60)
    assert back.status_code == 303 and back.headers["Location"] == "/admin/settings", back.text
    return Console(stack_url, back.headers["Set-Cookie"].split(";", 1)[0])
