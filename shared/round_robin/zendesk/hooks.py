"""The project's own webhook and trigger in a Zendesk account: created once, updated in place on reconnect.

The trigger fires on ticket creation only (`update_type is Create`), so the service's own assignment, an
update, never fires it again (docs: triggers run on every create and update; guard against loops).
"""

from __future__ import annotations

import json
from typing import Any

from round_robin.errors import ZendeskNotFoundError
from round_robin.zendesk.client import ZendeskClient

WEBHOOK_NAME = "Round Robin for Zendesk"
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
        "subscriptions": ["conditional_ticket_events"],
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


def ensure_webhook(client: ZendeskClient, endpoint: str, known_id: str | None) -> tuple[str, str, str]:
    """Create or update the project's webhook; return (id, signing secret, "created"|"updated"|"unchanged")."""
    wanted = webhook_definition(endpoint)
    existing = _find(client.get_webhook, known_id) if known_id else None
    if existing is None:
        named = client.webhooks_named(WEBHOOK_NAME)
        existing = named[0] if named else None
    if existing is None:
        webhook_id = client.create_webhook(wanted)["id"]
        action = "created"
    else:
        webhook_id = existing["id"]
        if all(existing.get(k) == v for k, v in wanted.items() if k != "description"):
            action = "unchanged"
        else:
            client.update_webhook(webhook_id, wanted)
            action = "updated"
    return webhook_id, client.webhook_signing_secret(webhook_id), action


def ensure_trigger(client: ZendeskClient, webhook_id: str, known_id: str | None) -> tuple[str, str]:
    """Create or update the project's trigger; return (id, "created"|"updated"|"unchanged")."""
    wanted = trigger_definition(webhook_id)
    existing = _find(client.get_trigger, known_id) if known_id else None
    if existing is None:
        titled = client.triggers_titled(TRIGGER_TITLE)
        existing = titled[0] if titled else None
    if existing is None:
        return str(client.create_trigger(wanted)["id"]), "created"
    trigger_id = str(existing["id"])
    if _same_trigger(existing, wanted):
        return trigger_id, "unchanged"
    client.update_trigger(trigger_id, wanted)
    return trigger_id, "updated"


def _find(getter: Any, resource_id: str) -> dict[str, Any] | None:
    try:
        return getter(resource_id)
    except ZendeskNotFoundError:
        return None  # deleted by someone in Zendesk: look it up by name, or create it again


def _same_trigger(existing: dict[str, Any], wanted: dict[str, Any]) -> bool:
    conditions = existing.get("conditions") or {}
    return (
        existing.get("active") is True
        and conditions.get("all") == wanted["conditions"]["all"]
        and not conditions.get("any")
        and existing.get("actions") == wanted["actions"]
    )
