"""The sandbox's burst controls: many new tickets at once (each runs the triggers), how many webhook deliveries go
out at once, and the answer time recorded for every delivery attempt (the benchmark's acknowledgement latency)."""

from __future__ import annotations

import json
import time

import pytest

from tests.sandbox.conftest import DEADLINE

TRIGGER_BODY = '{"ticket_id":"{{ticket.id}}"}'


def new_ticket_trigger(acme, endpoint: str) -> None:
    webhook = acme.webhook(endpoint, ["conditional_ticket_events"])
    answer = acme.client.post("/acme/api/v2/triggers.json", headers=acme.admin, json={"trigger": {
        "title": "new", "conditions": {"all": [{"field": "update_type", "operator": "is", "value": "Create"},
                                               {"field": "assignee_id", "operator": "is", "value": ""}]},
        "actions": [{"field": "notification_webhook", "value": [webhook["id"], TRIGGER_BODY]}]}})
    assert answer.status_code == 201


def finished_deliveries(acme, count: int) -> list[dict]:
    """The trigger's deliveries once `count` of them have an answer (polled, with a deadline)."""
    deadline = time.monotonic() + DEADLINE
    while True:
        with acme.sandbox.lock:
            done = [dict(d) for d in acme.account.deliveries
                    if d["type"] == "conditional_ticket_events" and d["answered_in"]]
        if len(done) >= count or time.monotonic() > deadline:
            return done
        time.sleep(0.05)  # polling, bounded by the deadline


def test_a_burst_creates_the_tickets_at_once_and_each_runs_the_triggers(acme, receiver):
    new_ticket_trigger(acme, receiver.url)

    created = acme.control("POST", "tickets", {"count": 5, "group_id": acme.groups["Support"], "subject": "Outage"},
                           status=201)["ticket_ids"]

    assert len(set(created)) == 5
    tickets = [acme.account.tickets[t] for t in created]
    assert all(t["group_id"] == acme.groups["Support"] and t["assignee_id"] is None for t in tickets)
    assert [t["subject"] for t in tickets] == [f"Outage {n}" for n in range(5)]
    deliveries = finished_deliveries(acme, 5)
    assert sorted(d["ticket_id"] for d in deliveries) == sorted(created)
    assert sorted(json.loads(r.raw)["ticket_id"] for r in receiver.received) == sorted(str(t) for t in created)


def test_every_delivery_attempt_records_its_answer_time(acme, receiver):
    new_ticket_trigger(acme, receiver.url)
    receiver.answers.append((409, {}))  # Zendesk tries again after a 409: two attempts, two answer times

    acme.control("POST", "tickets", {"count": 1, "group_id": None}, status=201)

    deadline = time.monotonic() + DEADLINE
    while time.monotonic() < deadline and len(receiver.received) < 2:
        time.sleep(0.05)  # polling, bounded by the deadline
    (delivery,) = finished_deliveries(acme, 1)
    while time.monotonic() < deadline and len(delivery["answered_in"]) < 2:
        time.sleep(0.05)  # the second attempt's record lands just after its answer
        (delivery,) = finished_deliveries(acme, 1)
    assert delivery["attempts"] == [409, 200]
    assert len(delivery["answered_in"]) == 2 and all(isinstance(s, float) and s >= 0 for s in delivery["answered_in"])


@pytest.mark.parametrize("body", [{"count": 0}, {"count": 5001}, {"count": "3"}, {"count": True}, {},
                                  {"count": 2, "group_id": 123}])
def test_a_burst_with_a_bad_count_or_group_is_refused_and_creates_nothing(acme, body):
    before = len(acme.account.tickets)

    answer = acme.client.post("/_sandbox/accounts/acme/tickets", json=body)

    assert answer.status_code == 400 and "error" in answer.json
    assert len(acme.account.tickets) == before


def test_the_delivery_concurrency_can_be_raised_for_a_burst(acme, receiver):
    new_ticket_trigger(acme, receiver.url)

    answer = acme.client.post("/_sandbox/deliveries", json={"concurrency": 40})

    assert answer.status_code == 200 and answer.json == {"concurrency": 40}
    assert acme.app.dispatcher.concurrency == 40
    acme.control("POST", "tickets", {"count": 3}, status=201)
    assert len(finished_deliveries(acme, 3)) == 3  # the new pool delivers


@pytest.mark.parametrize("body", [{}, {"concurrency": 0}, {"concurrency": "many"}, {"concurrency": 2001}])
def test_a_bad_delivery_concurrency_is_refused(acme, body):
    answer = acme.client.post("/_sandbox/deliveries", json=body)

    assert answer.status_code == 400
    assert acme.app.dispatcher.concurrency == 8
