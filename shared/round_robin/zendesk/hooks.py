"""The project's own webhook and trigger in a Zendesk account: created once, updated in place on reconnect, and
exactly one of each: copies that a race or a failed connect left behind are deleted by the next connect or by the
scheduled maintenance (a delivery from a copy would carry another signing secret and be refused with 401).

The trigger fires on ticket creation only (`update_type is Create`), so the service's own assignment, an
update, never fires it again (docs: triggers run on every create and update; guard against loops).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from round_robin.errors import ZendeskNotFoundError, ZendeskUnprocessableError
from round_robin.observability import logger
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


@dataclass(frozen=True)
class Hooks:
    """The project's webhook and trigger in an account after `ensure_hooks`."""

    webhook_id: str
    trigger_id: str
    signing_secret: str = field(default="", repr=False)
    webhook_action: str = "unchanged"  # created | updated | unchanged
    trigger_action: str = "unchanged"
    removed: int = 0  # duplicates deleted


def ensure_hooks(client: ZendeskClient, endpoint: str, known_webhook_id: str | None,
                 known_trigger_id: str | None) -> Hooks:
    """Create or update the project's webhook and trigger, and delete duplicates an earlier race left.

    One list call per object type. Of several of ours, the known one is kept, else the oldest.
    """
    wanted = webhook_definition(endpoint)
    webhook, extra_webhooks = _keep_one(_webhooks_named(client, WEBHOOK_NAME), known_webhook_id)
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
    return Hooks(webhook_id, trigger_id, _signing_secret(client, webhook_id), webhook_action, trigger_action,
                 removed)


def remove_duplicates(client: ZendeskClient, webhook_id: str, trigger_id: str) -> int:
    """The scheduled repair: keep the account's known webhook and trigger, delete other copies of ours, and point
    the trigger at the webhook; the number deleted. Nothing is created: a missing one waits for a reconnect."""
    webhook, extra_webhooks = _keep_one(_webhooks_named(client, WEBHOOK_NAME), webhook_id)
    if webhook is None or str(webhook["id"]) != webhook_id:
        return 0  # the known webhook is gone: only a reconnect (which stores its signing secret) can choose
    triggers = _triggers_titled(client, TRIGGER_TITLE)
    if not any(str(t["id"]) == trigger_id for t in triggers):
        return 0
    _, _, removed = _ensure_trigger(client, webhook_id, trigger_id, triggers)
    removed += _delete_webhooks(client, extra_webhooks)
    if removed:
        logger.warning("duplicate webhooks and triggers deleted", removed=removed, webhook_id=webhook_id)
    return removed


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


def _webhooks_named(client: ZendeskClient, name: str) -> list[dict[str, Any]]:
    return [w for w in client.paginate("/api/v2/webhooks", "webhooks", {"filter[name_contains]": name})
            if w.get("name") == name]


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
