"""Helpers shared by the integration tests of assignment and maintenance."""

from __future__ import annotations

import functools
import threading
import time
from collections import Counter

from round_robin import wiring
from round_robin.accounts.credentials import Credentials
from round_robin.assignment.agents import AgentStore
from round_robin.assignment.assigner import Assigner
from round_robin.assignment.claims import AssignmentStore
from round_robin.aws import clients
from round_robin.aws.queue import AssignmentRequest
from round_robin.zendesk.hooks import trigger_definition, webhook_definition
from tests.integration.conftest import PREFIX, PUBLIC_BASE_URL, TABLE
from tests.support.zendesk import BASE


def credentials(aws_env) -> Credentials:
    return Credentials.from_json(aws_env.secretsmanager.get_secret_value(SecretId=f"{PREFIX}acme")["SecretString"])


def new_ticket(account, group: str | None = "Support", **fields):
    spec = {"subject": "Help", **fields}
    if group:
        spec["group_id"] = account["groups"][group]
    zendesk = account["zendesk"]
    with zendesk.sandbox.lock:
        return zendesk.app.create_ticket(account["model"], spec, account["users"]["Hana Customer"], channel="web")


def request_for(ticket_id: int) -> AssignmentRequest:
    """A webhook's request for the ticket, just received (one queued for long goes to batch mode)."""
    return AssignmentRequest(subdomain="acme", ticket_id=ticket_id, source="webhook", received_at=time.time())


def position(aws_env, group_id) -> int:
    """How many assignments the group's rotation has made (its sequence number)."""
    item = aws_env.dynamodb.get_item(TableName=TABLE, Key={"pk": {"S": "ACCOUNT#acme"},
                                                            "sk": {"S": f"ROTATION#{group_id}"}})["Item"]
    return int(item["sequence"]["N"])


def record(ticket_id: int) -> dict:
    return AssignmentStore(TABLE, clients.client("dynamodb")).get("acme", ticket_id)


def counts(account, name: str) -> tuple[int, int]:
    """An agent's stored open and daily ticket counts."""
    agent_id = account["users"][name]
    stored = AgentStore(TABLE, clients.client("dynamodb")).agents("acme", {agent_id: name})[agent_id]
    return stored.open_count, stored.daily_count


def assigned_meanwhile(account, ticket_id: int, name: str, **answer) -> None:
    """The ticket's next PUT gets `answer` (status, body, headers), and meanwhile the ticket's assignee becomes
    `name` (a person assigning it, or our own write landing before the error)."""

    def assigns():
        account["model"].tickets[ticket_id]["assignee_id"] = account["users"][name]

    account["zendesk"].override("PUT", rf"/tickets/{ticket_id}\.json$", times=1, action=assigns, **answer)


def count_dynamodb_calls() -> Counter:
    """The DynamoDB calls made from now on through the wired client, by operation."""
    calls: Counter = Counter()
    clients.client("dynamodb").meta.events.register("before-call.dynamodb",
                                                lambda model, **_: calls.update([model.name]))
    return calls


def assigner_at(offset: float) -> Assigner:
    """A worker wired as wiring.assigner() is (its pace included), whose clock runs `offset` seconds ahead: the time
    a postponed ticket comes back, without waiting for it."""
    settings = wiring.get_settings()
    return Assigner(store=wiring.assignment_store(), rosters=wiring.rosters(), selector=wiring.selector(),
                    tokens=wiring.tokens(), zendesk=wiring.zendesk_factory(settings, max_retry_wait=0),
                    pace=wiring.pace(), requeue=lambda request, delay: wiring.queue().send(request, delay),
                    clock=lambda: time.time() + offset)


def assignee(account, ticket_id: int) -> int | None:
    return account["model"].tickets[ticket_id]["assignee_id"]


class AtomicRequests:
    """DynamoDB applies each request atomically; moto's in-process backend does not under threads. This
    wrapper gives the client that guarantee (one request at a time), and nothing more."""

    def __init__(self, client):
        self._client = client
        self._lock = threading.Lock()

    def __getattr__(self, name):
        attribute = getattr(self._client, name)
        if not callable(attribute):
            return attribute

        def call(*args, **kwargs):
            with self._lock:
                return attribute(*args, **kwargs)

        return call



def atomic_dynamodb(monkeypatch) -> None:
    """Route the service's DynamoDB client through AtomicRequests (see there), then rebuild the wiring."""
    original = clients.client
    atomic = AtomicRequests(original("dynamodb"))
    monkeypatch.setattr(clients, "client", functools.cache(lambda s: atomic if s == "dynamodb" else original(s)))
    wiring.reset()


def add_hooks(zendesk, access_token):
    """Create a webhook and trigger as the service does (an earlier connect's); return the webhook id."""
    headers = {"Authorization": f"Bearer {access_token}"}
    endpoint = f"{PUBLIC_BASE_URL}/webhooks/zendesk/acme"
    answer = zendesk.client.post("/acme/api/v2/webhooks", json={"webhook": webhook_definition(endpoint)},
                                 headers=headers, base_url=BASE)
    webhook_id = answer.json["webhook"]["id"]
    answer = zendesk.client.post("/acme/api/v2/triggers.json", json={"trigger": trigger_definition(webhook_id)},
                                 headers=headers, base_url=BASE)
    assert answer.status_code == 201, answer.get_data(as_text=True)
    return webhook_id
