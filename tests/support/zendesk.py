"""The project's Zendesk sandbox served to `requests` through `responses`: a faithful Zendesk for in-process
integration tests, with no sockets. Tests register their own `responses` stubs first to inject failures."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import responses
from werkzeug.test import Client

from round_robin_local.sandbox.app import SandboxApp
from round_robin_local.sandbox.model import Account, Sandbox

BASE = "https://zendesk.test"
URL_TEMPLATE = BASE + "/{subdomain}"
_ANY = re.compile(re.escape(BASE) + r"/.*")


@dataclass
class Override:
    method: str
    path: re.Pattern[str]
    status: int
    body: Any
    error: Exception | None
    remaining: int
    headers: dict[str, str]
    action: Any


@dataclass
class FakeZendesk:
    sandbox: Sandbox
    app: SandboxApp
    client: Client
    mock: responses.RequestsMock
    overrides: list[Override]

    def override(self, method: str, path: str, *, status: int = 500, body: Any = None,
                 error: Exception | None = None, times: int = 1000, headers: dict[str, str] | None = None,
                 action: Any = None) -> None:
        """Answer requests whose path matches the regex `path` with `status`/`body`, or raise `error`;
        `action()` runs first (e.g. a person changing the ticket at that moment)."""
        self.overrides.append(Override(method, re.compile(path), status, body, error, times, headers or {}, action))

    def account(self, subdomain: str = "acme") -> Account:
        return self.sandbox.accounts[subdomain]

    def user(self, name: str, subdomain: str = "acme") -> dict[str, Any]:
        return next(u for u in self.account(subdomain).users.values() if u["name"] == name)

    def calls(self, method: str, path_fragment: str) -> list[Any]:
        return [c for c in self.mock.calls if c.request.method == method and path_fragment in c.request.url]


def start_fake_zendesk(mock: responses.RequestsMock, *, redirect_uri: str, auto_approve: bool = True) -> FakeZendesk:
    sandbox = Sandbox(auto_approve=auto_approve, redirect_uris=[redirect_uri])
    sandbox.create_account("acme")
    app = SandboxApp(sandbox)
    client = Client(app)
    overrides: list[Override] = []

    def forward(request: Any) -> tuple[int, dict[str, str], bytes]:
        parts = urlsplit(request.url)
        for rule in overrides:
            if rule.remaining > 0 and rule.method == request.method and rule.path.search(parts.path):
                rule.remaining -= 1
                if rule.action is not None:
                    rule.action()
                if rule.error is not None:
                    raise rule.error
                return (rule.status, {"Content-Type": "application/json", **rule.headers},
                        json.dumps(rule.body or {}).encode())
        body = request.body.encode() if isinstance(request.body, str) else request.body
        answer = client.open(parts.path, method=request.method, query_string=parts.query,
                             headers=dict(request.headers), data=body, base_url=BASE)
        headers = {k: v for k, v in answer.headers.items() if k.lower() not in ("content-length",)}
        return answer.status_code, headers, answer.get_data()

    for method in ("GET", "POST", "PUT", "PATCH", "DELETE"):
        mock.add_callback(method, _ANY, callback=forward)
    return FakeZendesk(sandbox, app, client, mock, overrides)
