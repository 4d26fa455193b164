"""The project's own webhook and trigger in a Zendesk account: created once, updated in place on reconnect, and
exactly one of each: copies that a race or a failed connect left behind are deleted by the next connect or by the
scheduled maintenance (a delivery from a copy would carry another signing secret and be refused with 401).

The trigger fires on ticket creation only (`update_type is Create`), so the service's own assignment, an
update, never fires it again (docs: triggers run on every create and update; guard against loops).

A second webhook, "Round Robin for Zendesk: events", is subscribed to the user, agent and ticket events that change
who can take tickets. Zendesk makes a webhook either trigger-connected or event-subscribed, and "You can't change
an existing webhook's connection method" (support.zendesk.com/hc/en-us/articles/1260803996569), hence two webhooks,
each with its own signing secret, both pointing at the account's one receiver URL (it tells them apart by payload).
`ticket.created` is not subscribed: the trigger already announces new tickets, and both would double the work.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from round_robin.errors import ZendeskNotFoundError, ZendeskUnprocessableError
from round_robin.observability import logger
from round_robin.zendesk.client import ZendeskClient
from round_robin.zendesk.event_types import SUBSCRIBED

WEBHOOK_NAME = "Round Robin for Zendesk"
EVENTS_WEBHOOK_NAME = "Round Robin for Zendesk: events"
TRIGGER_SUBSCRIPTION = "conditional_ticket_events"
TRIGGER_TITLE = "Round Robin for Zendesk: assign new unassigned tickets"

# Every placeholder is quoted: empty values render as "" and ids are handled as strings.
WEBHOOK_BODY = json.dumps(
    {
        "source": "round-robin-trigger",
        "ticket_id": "{{ticket.id}}",
        "group_id": "{{ticket.group.id}}",
        "assignee_id": "{{ticket.assignee.id}}",
        "status": "{{ticket.status}}",
        "brand_id": "{{ticket.brand.id}}",
        "updated_at": "{{ticket.updated_at_with_timestamp}}",
    }
)


def webhook_definition(endpoint: str) -> dict[str, Any]:
    return {
        "name": WEBHOOK_NAME,
        "description": "Receives new unassigned tickets for round-robin assignment.",
        "status": "active",
        "endpoint": endpoint,
        "http_method": "POST",
        "request_format": "json",
        "subscriptions": [TRIGGER_SUBSCRIPTION],
    }


def events_webhook_definition(endpoint: str) -> dict[str, Any]:
    # Event-subscribed webhooks must use POST and json (the Webhooks API's http_method and request_format fields).
    return {
        "name": EVENTS_WEBHOOK_NAME,
        "description": "Receives the user, agent and ticket events that change who can take tickets.",
        "status": "active",
        "endpoint": endpoint,
        "http_method": "POST",
        "request_format": "json",
        "subscriptions": list(SUBSCRIBED),
    }


def trigger_definition(webhook_id: str) -> dict[str, Any]:
    return {
        "title": TRIGGER_TITLE,
        "active": True,
        "description": "Managed by Round Robin for Zendesk; reconnecting restores it.",
        "conditions": {
            "all": [
                {"field": "update_type", "operator": "is", "value": "Create"},
                {"field": "assignee_id", "operator": "is", "value": ""},
            ],
            "any": [],
        },
        "actions": [{"field": "notification_webhook", "value": [webhook_id, WEBHOOK_BODY]}],
    }


@dataclass(frozen=True)
class Hooks:
    """The project's webhooks and trigger in an account after `ensure_hooks`."""

    webhook_id: str
    trigger_id: str
    signing_secret: str = field(default="", repr=False)
    webhook_action: str = "unchanged"  # created | updated | unchanged
    trigger_action: str = "unchanged"
    removed: int = 0  # duplicates deleted
    events_webhook_id: str = ""
    events_signing_secret: str = field(default="", repr=False)
    events_webhook_action: str = "unchanged"


@dataclass(frozen=True)
class EventsWebhook:
    """The event-subscribed webhook after `ensure_events_webhook`."""

    webhook_id: str
    signing_secret: str = field(repr=False)
    action: str  # created | updated | unchanged
    removed: int = 0  # copies deleted


def ensure_hooks(client: ZendeskClient, endpoint: str, known_webhook_id: str | None,
                 known_trigger_id: str | None, known_events_webhook_id: str | None = None) -> Hooks:
    """Create or update the project's two webhooks and its trigger, and delete duplicates an earlier race left.

    One list call per object type. Of several of ours, the known one is kept, else the oldest.
    """
    wanted = webhook_definition(endpoint)
    ours = _our_webhooks(client)
    webhook, extra_webhooks = _keep_one(ours[WEBHOOK_NAME], known_webhook_id)
    if webhook is None:
        created = client.post("/api/v2/webhooks", {"webhook": wanted})["webhook"]
        webhook_id, webhook_action = str(created["id"]), "created"
    else:
        webhook_id, webhook_action = str(webhook["id"]), "unchanged"
        if any(webhook.get(k) != v for k, v in wanted.items() if k != "description"):
            client.put(f"/api/v2/webhooks/{webhook_id}", {"webhook": wanted})
            webhook_action = "updated"
    trigger_id, trigger_action, removed = _ensure_trigger(client, webhook_id, known_trigger_id)
    removed += _delete_webhooks(client, extra_webhooks)
    events = _ensure_events_webhook(client, endpoint, known_events_webhook_id, ours[EVENTS_WEBHOOK_NAME])
    return Hooks(webhook_id, trigger_id, _signing_secret(client, webhook_id), webhook_action, trigger_action,
                 removed + events.removed, events.webhook_id, events.signing_secret, events.action)


def ensure_events_webhook(client: ZendeskClient, webhook_id: str) -> EventsWebhook | None:
    """For an account connected before the events webhook existed: create it (or adopt one of ours that an
    interrupted earlier run made) at the trigger webhook's own endpoint; None if that webhook is gone (only a
    reconnect can then choose the endpoint)."""
    ours = _our_webhooks(client)
    trigger_webhook = next((w for w in ours[WEBHOOK_NAME] if str(w["id"]) == webhook_id), None)
    if trigger_webhook is None:
        return None
    return _ensure_events_webhook(client, str(trigger_webhook["endpoint"]), None, ours[EVENTS_WEBHOOK_NAME])


def remove_duplicates(client: ZendeskClient, webhook_id: str, trigger_id: str,
                      events_webhook_id: str | None = None) -> int:
    """The scheduled repair: keep the account's known webhooks and trigger, delete other copies of ours, and point
    the trigger at the webhook; the number deleted. Nothing is created: a missing one waits for a reconnect."""
    ours = _our_webhooks(client)
    webhook, extra_webhooks = _keep_one(ours[WEBHOOK_NAME], webhook_id)
    if webhook is None or str(webhook["id"]) != webhook_id:
        return 0  # the known webhook is gone: only a reconnect (which stores its signing secret) can choose
    triggers = _triggers_titled(client, TRIGGER_TITLE)
    if not any(str(t["id"]) == trigger_id for t in triggers):
        return 0
    _, _, removed = _ensure_trigger(client, webhook_id, trigger_id, triggers)
    removed += _delete_webhooks(client, extra_webhooks)
    events, extra_events = _keep_one(ours[EVENTS_WEBHOOK_NAME], events_webhook_id)
    if events_webhook_id and events is not None and str(events["id"]) == events_webhook_id:
        removed += _delete_webhooks(client, extra_events)
    if removed:
        logger.warning("duplicate webhooks and triggers deleted", removed=removed, webhook_id=webhook_id)
    return removed


def _ensure_events_webhook(client: ZendeskClient, endpoint: str, known_id: str | None,
                           named: list[dict[str, Any]]) -> EventsWebhook:
    wanted = events_webhook_definition(endpoint)
    webhook, extras = _keep_one(named, known_id)
    if webhook is None:
        created = client.post("/api/v2/webhooks", {"webhook": wanted})["webhook"]
        webhook_id, action = str(created["id"]), "created"
    else:
        webhook_id, action = str(webhook["id"]), "unchanged"
        if not _same_webhook(webhook, wanted):
            client.put(f"/api/v2/webhooks/{webhook_id}", {"webhook": wanted})
            action = "updated"
    removed = _delete_webhooks(client, extras)  # no trigger uses an event-subscribed webhook
    return EventsWebhook(webhook_id, _signing_secret(client, webhook_id), action, removed)


def _same_webhook(existing: dict[str, Any], wanted: dict[str, Any]) -> bool:
    # Subscriptions are a set to Zendesk: their order is not a difference.
    return all(
        sorted(existing.get(k) or []) == sorted(v) if k == "subscriptions" else existing.get(k) == v
        for k, v in wanted.items() if k != "description"
    )


def _ensure_trigger(client: ZendeskClient, webhook_id: str, known_id: str | None,
                    titled: list[dict[str, Any]] | None = None) -> tuple[str, str, int]:
    """(id, "created"|"updated"|"unchanged", duplicates deleted). Duplicates go first: Zendesk refuses to delete
    a webhook that a trigger still uses, and the duplicate triggers are what use the duplicate webhooks."""
    wanted = trigger_definition(webhook_id)
    trigger, extras = _keep_one(_triggers_titled(client, TRIGGER_TITLE) if titled is None else titled, known_id)
    for extra in extras:
        _delete(client, f"/api/v2/triggers/{extra['id']}.json")
    if trigger is None:
        created = client.post("/api/v2/triggers.json", {"trigger": wanted})["trigger"]
        return str(created["id"]), "created", len(extras)
    trigger_id = str(trigger["id"])
    if _same_trigger(trigger, wanted):
        return trigger_id, "unchanged", len(extras)
    client.put(f"/api/v2/triggers/{trigger_id}.json", {"trigger": wanted})
    return trigger_id, "updated", len(extras)


def _our_webhooks(client: ZendeskClient) -> dict[str, list[dict[str, Any]]]:
    """Our webhooks by name, in one list call: the filter is a substring match ("name_contains"), which matches
    both names (and any customer webhook that contains them), so names are compared exactly. A webhook of ours
    whose connection method is not its name's (it cannot be changed) is not ours to keep."""
    found: dict[str, list[dict[str, Any]]] = {WEBHOOK_NAME: [], EVENTS_WEBHOOK_NAME: []}
    for webhook in client.paginate("/api/v2/webhooks", "webhooks", {"filter[name_contains]": WEBHOOK_NAME}):
        name = webhook.get("name")
        if name in found and (TRIGGER_SUBSCRIPTION in (webhook.get("subscriptions") or [])) == (name == WEBHOOK_NAME):
            found[name].append(webhook)
    return found


def _signing_secret(client: ZendeskClient, webhook_id: str) -> str:
    return str(client.get(f"/api/v2/webhooks/{webhook_id}/signing_secret")["signing_secret"]["secret"])


def _triggers_titled(client: ZendeskClient, title: str) -> list[dict[str, Any]]:
    return [t for t in client.paginate("/api/v2/triggers.json", "triggers") if t.get("title") == title]


def _keep_one(ours: list[dict[str, Any]], known_id: str | None) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
    """The one to keep (the known one, else the oldest) and the others."""
    if not ours:
        return None, []
    ordered = sorted(ours, key=lambda r: (str(r["id"]) != str(known_id), str(r.get("created_at") or ""),
                                          _id_order(r["id"])))
    return ordered[0], ordered[1:]


def _id_order(resource_id: Any) -> tuple[int, str]:
    # Trigger ids are increasing integers; webhook ids are ULIDs, whose text order is creation order.
    text = str(resource_id)
    return (len(text), text)


def _delete_webhooks(client: ZendeskClient, webhooks: list[dict[str, Any]]) -> int:
    deleted = 0
    for webhook in webhooks:
        try:
            _delete(client, f"/api/v2/webhooks/{webhook['id']}")  # a concurrent repair may have deleted it
            deleted += 1
        except ZendeskUnprocessableError:
            # Still used by a trigger that is not ours: leaving it is safer than breaking the customer's trigger.
            logger.warning("duplicate webhook still in use, left in place", webhook_id=webhook["id"])
    return deleted


def _delete(client: ZendeskClient, path: str) -> None:
    try:
        client.delete(path)
    except ZendeskNotFoundError:
        pass  # already gone (deleted by someone, or by a concurrent repair)


def _same_trigger(existing: dict[str, Any], wanted: dict[str, Any]) -> bool:
    conditions = existing.get("conditions") or {}
    return (
        existing.get("active") is True
        and conditions.get("all") == wanted["conditions"]["all"]
        and not conditions.get("any")
        and existing.get("actions") == wanted["actions"]
    )
