"""Driving the admin console in-process: its handler and the OAuth callback with payload 2.0 events, a browser's
cookie jar reduced to the one session cookie, and the sandbox's consent page in between."""

from __future__ import annotations

from dataclasses import dataclass, field
from types import ModuleType
from typing import Any
from urllib.parse import urlencode

from round_robin.console.http import SESSION_COOKIE
from tests.integration.flows import consent
from tests.support.lambda_env import LambdaContext, http_event
from tests.support.zendesk import FakeZendesk


@dataclass
class Browser:
    """One browser: the console and callback handlers, and the cookie it holds."""

    console: ModuleType
    callback: ModuleType
    zendesk: FakeZendesk
    cookies: dict[str, str] = field(default_factory=dict)
    answer: dict[str, str] = field(default_factory=dict)  # Zendesk's last redirect back (code and state)

    def request(self, method: str, path: str, *, query: dict[str, str] | None = None,
                form: dict[str, Any] | None = None, body: str | None = None,
                content_type: str = "application/x-www-form-urlencoded") -> dict[str, Any]:
        handler = self.callback if path == "/oauth/callback" else self.console
        data = urlencode(form, doseq=True) if form is not None else body
        event = http_event(method, path, query=query, body=data,
                           headers={"content-type": content_type} if data is not None else None)
        if self.cookies:
            event["cookies"] = [f"{k}={v}" for k, v in self.cookies.items()]
        answer = handler.lambda_handler(event, LambdaContext())
        for cookie in answer.get("cookies") or []:
            name, _, rest = cookie.partition("=")
            value = rest.split(";", 1)[0]
            if "Max-Age=0" in cookie or not value:
                self.cookies.pop(name, None)
            else:
                self.cookies[name] = value
        return answer

    def get(self, path: str, **query: str) -> dict[str, Any]:
        return self.request("GET", path, query=query or None)

    def post(self, path: str, form: dict[str, Any]) -> dict[str, Any]:
        return self.request("POST", path, form=form)

    @property
    def session_id(self) -> str | None:
        return self.cookies.get(SESSION_COOKIE)

    def approve(self, subdomain: str = "acme", *, user_id: int | None = None, decision: str = "allow") -> None:
        """Open /admin?subdomain= and approve in Zendesk (as `user_id`, default the sandbox's admin); the redirect
        back is kept in `answer`, not yet followed."""
        started = self.get("/admin", subdomain=subdomain)
        assert started["statusCode"] == 303, started
        self.answer = consent(self.zendesk, started["headers"]["Location"], user_id=user_id, decision=decision)

    def sign_in(self, subdomain: str = "acme", *, user_id: int | None = None,
                decision: str = "allow") -> dict[str, Any]:
        """approve(), then follow Zendesk's redirect back to the callback."""
        self.approve(subdomain, user_id=user_id, decision=decision)
        return self.request("GET", "/oauth/callback", query=self.answer)
