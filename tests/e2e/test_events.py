"""The event-subscribed webhook end to end: the connect flow makes it next to the trigger's webhook, a reconnect
keeps both, and an agent's status change in the sandbox travels Zendesk -> receiver (202) -> events queue -> the
events function. What the events function then does with it is tested with its handler, not here."""

import json

import requests

from round_robin.zendesk.event_types import SUBSCRIBED
from tests.e2e.browser import connect
from tests.e2e.conftest import wait_for

SUB = "e2e-events"
UNIFIED = "zen:event-type:agent.unified_state_changed"


def our_webhooks(stack) -> tuple[list[dict], list[dict]]:
    """(trigger-connected, event-subscribed) webhooks of the account."""
    webhooks = stack.zendesk_account(SUB)["webhooks"]
    trigger = [w for w in webhooks if w["subscriptions"] == ["conditional_ticket_events"]]
    return trigger, [w for w in webhooks if w not in trigger]


def events_function_lines(stack, event_type: str | None, kind: str = "zendesk", sub: str = SUB) -> list[dict]:
    """The events function's log lines about this account's messages of `kind` (and `event_type`); only it logs
    `kind`."""
    lines = []
    for text in stack.log_text().splitlines():
        start = text.find("{")
        if start < 0 or '"kind"' not in text:
            continue
        try:
            line = json.loads(text[start:])
        except ValueError:
            continue
        if line.get("kind") == kind and line.get("event_type") == event_type and line.get("subdomain") == sub:
            lines.append(line)
    return lines


def test_connect_makes_both_webhooks_and_an_agent_status_change_reaches_the_events_function(stack):
    # given a sandbox account connected through the real flow
    account = stack.new_account(SUB)
    assert connect(stack.url, SUB).page.status_code == 200

    # then Zendesk has two webhooks of ours at the account's one URL: trigger-connected and event-subscribed
    (trigger_webhook,), (events_webhook,) = our_webhooks(stack)
    assert trigger_webhook["endpoint"] == events_webhook["endpoint"] == f"{stack.url}/webhooks/zendesk/{SUB}"
    assert sorted(events_webhook["subscriptions"]) == sorted(SUBSCRIBED)
    assert "zen:event-type:ticket.created" not in events_webhook["subscriptions"]
    assert (events_webhook["http_method"], events_webhook["request_format"]) == ("POST", "json")

    # and a reconnect keeps the same two
    assert connect(stack.url, SUB).page.status_code == 200
    trigger_after, events_after = our_webhooks(stack)
    assert [w["id"] for w in trigger_after] == [trigger_webhook["id"]]
    assert [w["id"] for w in events_after] == [events_webhook["id"]]

    # when an agent goes Away in Zendesk
    ben = next(u for u in account["users"] if u["name"] == "Ben Agent")
    stack.sandbox_control(SUB, f"agents/{ben['id']}/status", {"status": "Away"})

    # then Zendesk's signed delivery of the event is accepted with 202 ...
    def delivered():
        found = requests.get(f"{stack.sandbox}/_sandbox/accounts/{SUB}/deliveries", params={"type": UNIFIED},
                             timeout=10).json()["deliveries"]
        return [d for d in found if d["status"] != "queued" and d["attempts"]]

    (delivery,) = wait_for(delivered, timeout=30, what="the agent status event to be delivered")
    assert delivery["webhook_id"] == events_webhook["id"]
    assert delivery["attempts"][-1] == 202 and delivery["status"] == "delivered"

    # ... and the message it queued reaches the events function
    lines = wait_for(lambda: events_function_lines(stack, UNIFIED), timeout=60,
                     what="the events function to receive the queued event")
    assert {line["function_name"] for line in lines} == {"ZendeskEventsFunction"}


def test_an_operators_change_reaches_the_events_function_through_the_stacks_queue(stack):
    # given a connected account
    sub = "e2e-events-cli"
    account = stack.new_account(sub)
    assert connect(stack.url, sub).page.status_code == 200
    cleo = next(u for u in account["users"] if u["name"] == "Cleo Agent")

    # when the operator sets an agent away with the CLI (which finds the events queue as the functions do)
    result = stack.cli("availability", sub, str(cleo["id"]), "away")

    # then the change is stored and announced, and the events function receives the announcement
    assert result.returncode == 0, result.stderr
    lines = wait_for(lambda: events_function_lines(stack, None, kind="agent_changed", sub=sub), timeout=60,
                     what="the events function to receive the operator's change")
    assert {line["function_name"] for line in lines} == {"ZendeskEventsFunction"}
