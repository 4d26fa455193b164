"""The demo account `acme` with API-token access for any of its people, and a loopback receiver that records the
webhook deliveries it gets (for the event tests)."""

from __future__ import annotations

import base64
import json
import threading
from dataclasses import dataclass, field
from typing import Any

import pytest
from werkzeug.test import Client
from werkzeug.wrappers import Request, Response

from round_robin_local.sandbox.app import SandboxApp
from round_robin_local.sandbox.model import Account, Sandbox
from round_robin_local.serving import LoopbackServer

DEADLINE = 10.0


@dataclass
class Acme:
    sandbox: Sandbox
    app: SandboxApp
    client: Client
    account: Account
    users: dict[str, int]
    groups: dict[str, int]

    def as_user(self, name: str) -> dict[str, str]:
        """Basic auth with an API token of the user `name` (an API token has `read write`)."""
        token = f"token-{self.users[name]}"
        self.account.api_tokens[token] = self.users[name]
        login = f"{self.account.users[self.users[name]]['email']}/token:{token}"
        return {"Authorization": "Basic " + base64.b64encode(login.encode()).decode()}

    @property
    def admin(self) -> dict[str, str]:
        return self.as_user("Ada Admin")

    def webhook(self, endpoint: str, subscriptions: list[str], **extra: Any) -> dict[str, Any]:
        answer = self.client.post("/acme/api/v2/webhooks", headers=self.admin, json={"webhook": {
            "name": "events", "status": "active", "endpoint": endpoint, "http_method": "POST",
            "request_format": "json", "subscriptions": subscriptions, **extra}})
        assert answer.status_code == 201, answer.json
        return answer.json["webhook"]

    def secret(self, webhook: dict[str, Any]) -> str:
        answer = self.client.get(f"/acme/api/v2/webhooks/{webhook['id']}/signing_secret", headers=self.admin)
        return answer.json["signing_secret"]["secret"]

    def control(self, method: str, path: str, body: Any = None, status: int = 200) -> Any:
        answer = self.client.open(f"/_sandbox/accounts/acme/{path}", method=method, json=body)
        assert answer.status_code == status, answer.get_data(as_text=True)
        return answer.json


@pytest.fixture
def acme():
    sandbox = Sandbox()
    account = sandbox.create_account("acme")
    app = SandboxApp(sandbox)
    yield Acme(sandbox, app, Client(app), account, {u["name"]: u["id"] for u in account.users.values()},
               {g["name"]: g["id"] for g in account.groups.values()})
    app.dispatcher.shutdown()


@dataclass
class Received:
    headers: dict[str, str]
    raw: bytes

    @property
    def body(self) -> dict[str, Any]:
        return json.loads(self.raw)


@dataclass
class Receiver:
    """Records every request; answers the statuses queued in `answers` first, then 200."""

    url: str = ""
    received: list[Received] = field(default_factory=list)
    answers: list[tuple[int, dict[str, str]]] = field(default_factory=list)
    arrived: threading.Condition = field(default_factory=threading.Condition)

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        with self.arrived:
            self.received.append(Received(dict(request.headers), request.get_data()))
            status, headers = self.answers.pop(0) if self.answers else (200, {})
            self.arrived.notify_all()
        return Response("ok", status=status, headers=headers)(environ, start_response)

    def of_type(self, event_type: str) -> list[Received]:
        return [r for r in self.received if json.loads(r.raw).get("type") == event_type]

    def wait_for(self, event_type: str, count: int = 1) -> list[Received]:
        """The deliveries of `event_type`, once there are `count` of them (fails after the deadline)."""
        with self.arrived:
            assert self.arrived.wait_for(lambda: len(self.of_type(event_type)) >= count, DEADLINE), \
                f"no {count} x {event_type} within {DEADLINE} s; got {[r.body.get('type') for r in self.received]}"
            return self.of_type(event_type)


@pytest.fixture
def receiver():
    receiver = Receiver()
    server = LoopbackServer(receiver, access_log=False)
    server.start()
    receiver.url = f"{server.url}/hook"
    yield receiver
    server.stop()
