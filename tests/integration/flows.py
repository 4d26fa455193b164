"""Driving the connect flow in-process: the handlers with payload 2.0 events, the sandbox's consent via
its WSGI test client (what a browser would do between the two redirects). And a connected account seeded
without the browser (`seed_connected_account`), for tests about what comes after connecting."""

from __future__ import annotations

from types import ModuleType
from typing import Any
from urllib.parse import parse_qs, urlsplit

from round_robin import wiring
from round_robin_local.seeding import connect_granted
from tests.support.lambda_env import LambdaContext, http_event
from tests.support.zendesk import BASE, FakeZendesk


def start(handler: ModuleType, subdomain: str | None = "acme") -> dict[str, Any]:
    query = {"subdomain": subdomain} if subdomain is not None else None
    return handler.lambda_handler(http_event("GET", "/oauth/start", query=query), LambdaContext())


def consent(zendesk: FakeZendesk, authorize_url: str, *, decision: str = "allow",
            user_id: int | None = None) -> dict[str, str]:
    """Answer the consent page; return the query Zendesk redirects back with (code/state or error/state)."""
    assert authorize_url.startswith(BASE)
    parts = urlsplit(authorize_url)
    form = {k: v[0] for k, v in parse_qs(parts.query).items()}
    form["decision"] = decision
    if user_id is not None:
        form["user_id"] = str(user_id)
    answer = zendesk.client.post(parts.path, data=form, base_url=BASE)
    assert answer.status_code == 302, answer.get_data(as_text=True)
    return {k: v[0] for k, v in parse_qs(urlsplit(answer.headers["Location"]).query).items()}


def callback(handler: ModuleType, query: dict[str, str]) -> dict[str, Any]:
    return handler.lambda_handler(http_event("GET", "/oauth/callback", query=query), LambdaContext())


def connect(start_handler: ModuleType, callback_handler: ModuleType, zendesk: FakeZendesk,
            **consent_options: Any) -> tuple[dict[str, Any], dict[str, str]]:
    started = start(start_handler)
    assert started["statusCode"] == 302, started
    answer = consent(zendesk, started["headers"]["Location"], **consent_options)
    return callback(callback_handler, answer), answer


def seed_connected_account(zendesk: FakeZendesk, subdomain: str = "acme", admin: str = "Ada Admin") -> None:
    """Connect `subdomain` as the callback does once it holds a grant (round_robin_local/seeding.py): rosters
    imported, webhooks and trigger created, secrets stored."""
    settings = wiring.get_settings()
    assert settings.public_base_url
    connect_granted(zendesk.sandbox, zendesk.account(subdomain), zendesk.user(admin, subdomain)["id"],
                    settings.public_base_url)
