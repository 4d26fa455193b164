"""A burst of webhook deliveries at once against the local stack (issue 10): 200 new tickets in one group, their
200 signed deliveries sent together (the sandbox's delivery pool raised to 200), 8 webhook receivers. Every
delivery is acknowledged with a 2xx (Zendesk retries a time-out) and every ticket is queued for assignment: counted
from the sandbox's delivery records and the receiver's "ticket queued" log lines, never timed."""

from __future__ import annotations

import json

import pytest
import requests

from tests.e2e.browser import connect
from tests.e2e.conftest import running_stack, wait_for

BURST = 200
SUBDOMAIN = "e2e-burst"
ATTEMPTS = 4  # the sandbox's first try and Zendesk's 3 retries (sandbox/deliveries.py)


@pytest.fixture(scope="module")
def burst_stack(tmp_path_factory):
    with running_stack(tmp_path_factory.mktemp("burst") / "stack.log",
                       LOCAL_CONCURRENCY="WebhookFunction=8") as started:
        yield started


def queued_tickets(log_text: str) -> set[int]:
    queued = set()
    for line in log_text.splitlines():
        if '"ticket queued"' not in line:
            continue
        record = json.loads(line[line.index("{"):])
        if record.get("subdomain") == SUBDOMAIN:
            queued.add(int(record["ticket_id"]))
    return queued


def test_a_burst_of_deliveries_is_acknowledged_and_every_ticket_queued(burst_stack):
    burst_stack.new_account(SUBDOMAIN)
    assert connect(burst_stack.url, SUBDOMAIN).page.status_code == 200
    support = next(g["id"] for g in burst_stack.zendesk_account(SUBDOMAIN)["groups"] if g["name"] == "Support")
    requests.post(f"{burst_stack.sandbox}/_sandbox/deliveries", json={"concurrency": BURST},
                  timeout=10).raise_for_status()

    answer = requests.post(f"{burst_stack.sandbox}/_sandbox/accounts/{SUBDOMAIN}/tickets", timeout=60,
                           json={"count": BURST, "group_id": support, "subject": "Outage"})
    assert answer.status_code == 201, answer.text
    tickets = set(answer.json()["ticket_ids"])

    def finished():
        records = requests.get(f"{burst_stack.sandbox}/_sandbox/accounts/{SUBDOMAIN}/deliveries", timeout=30,
                               params={"type": "conditional_ticket_events"}).json()["deliveries"]
        mine = [d for d in records if d["ticket_id"] in tickets]
        done = [d for d in mine if d["status"] == "delivered" or len(d["attempts"]) >= ATTEMPTS]
        return mine if len(mine) == BURST and len(done) == BURST else None

    deliveries = wait_for(finished, timeout=240, what=f"{BURST} deliveries to be answered", interval=1.0)

    refused = [(d["ticket_id"], d["attempts"]) for d in deliveries if d["status"] != "delivered"]
    assert not refused, f"{len(refused)} deliveries never acknowledged with 2xx: {refused[:5]}"
    assert all(200 <= d["attempts"][-1] < 300 for d in deliveries)
    assert queued_tickets(burst_stack.log_text()) >= tickets
