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
