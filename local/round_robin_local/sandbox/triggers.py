"""Triggers: the Triggers API, and how triggers run, as Zendesk documents them.

Triggers run on every ticket create and update, in order; a matching trigger's `notification_webhook` action
renders the body template (placeholders as plain text, empty when unknown) and sends it (deliveries.py).
"""

from __future__ import annotations

import re
from typing import Any

from werkzeug.wrappers import Request, Response

from round_robin_local.sandbox.answers import (
    body_of,
    json_answer,
    method_not_allowed,
    not_found,
    record_invalid,
    to_int,
)
from round_robin_local.sandbox.deliveries import Dispatcher
from round_robin_local.sandbox.model import TICKET_STATUSES, Account, Sandbox
from round_robin_local.sandbox.pagination import paginate

CONDITION_FIELDS = {"update_type", "assignee_id", "group_id", "status", "current_tags", "brand_id", "requester_id"}
OPERATORS = {"is", "is_not", "less_than", "greater_than", "includes", "not_includes"}
ACTION_FIELDS = {"notification_webhook", "current_tags", "set_tags", "status", "group_id"}
_PLACEHOLDER = re.compile(r"\{\{\s*([a-z0-9_.]+)\s*\}\}")


class TriggersApi:
    """`/api/v2/triggers/...`."""

    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox

    def route(self, request: Request, account: Account, rest: list[str]) -> Response:
        method = request.method
        if not rest and method == "GET":
            found = list(account.triggers.values())
            if "active" in request.args:
                found = [t for t in found if t["active"] == (request.args["active"] == "true")]
            return paginate(request, account, "triggers", found)
        if not rest and method == "POST":
            spec = body_of(request, "trigger")
            _validate(account, spec)
            now = self.sandbox.clock.iso()
            trigger = _trigger_from(spec, self.sandbox.next_id(), now, now, len(account.triggers) + 1)
            account.triggers[trigger["id"]] = trigger
            return json_answer({"trigger": trigger}, 201)
        trigger = account.triggers.get(to_int(rest[0]) or -1) if len(rest) == 1 else None
        if trigger is None:
            raise not_found()
        if method == "GET":
            return json_answer({"trigger": trigger})
        if method == "PUT":
            spec = {**trigger, **body_of(request, "trigger")}
            _validate(account, spec)
            updated = _trigger_from(spec, trigger["id"], trigger["created_at"], self.sandbox.clock.iso(),
                                    trigger["position"])
            account.triggers[trigger["id"]] = updated
            return json_answer({"trigger": updated})
        if method == "DELETE":
            del account.triggers[trigger["id"]]
            return Response(status=204)
        raise method_not_allowed()


def _validate(account: Account, trigger: dict[str, Any]) -> None:
    problem = validate_trigger(account, trigger)
    if problem:
        raise record_invalid(problem)


def _trigger_from(spec: dict[str, Any], trigger_id: int, created: str, updated: str, position: int) -> dict[str, Any]:
    conditions = spec["conditions"]
    return {
        "id": trigger_id, "title": spec["title"], "active": spec.get("active", True),
        "description": spec.get("description"), "position": spec.get("position", position),
        "conditions": {"all": list(conditions.get("all") or []), "any": list(conditions.get("any") or [])},
        "actions": list(spec["actions"]), "created_at": created, "updated_at": updated,
    }


def validate_trigger(account: Account, trigger: dict[str, Any]) -> str | None:
    """Return a RecordInvalid description, or None when the trigger is acceptable."""
    if not str(trigger.get("title") or "").strip():
        return "Title: cannot be blank"
    conditions = trigger.get("conditions") or {}
    every = list(conditions.get("all") or []) + list(conditions.get("any") or [])
    if not every:
        return "Conditions: must have at least one condition"
    for condition in every:
        if condition.get("field") not in CONDITION_FIELDS:
            return f"Conditions: {condition.get('field')!r} is not a valid condition field"
        if condition.get("operator") not in OPERATORS:
            return f"Conditions: {condition.get('operator')!r} is not a valid operator"
    actions = trigger.get("actions") or []
    if not actions:
        return "Actions: must have at least one action"
    for action in actions:
        if action.get("field") not in ACTION_FIELDS:
            return f"Actions: {action.get('field')!r} is not a valid action"
        if action["field"] == "notification_webhook":
            value = action.get("value")
            if not isinstance(value, list) or len(value) != 2 or value[0] not in account.webhooks:
                return "Actions: notification_webhook needs [webhook id, body] of an existing webhook"
            if "conditional_ticket_events" not in account.webhooks[value[0]]["subscriptions"]:
                return "Actions: the webhook is not subscribed to conditional_ticket_events"
    return None


def run_triggers(account: Account, ticket: dict[str, Any], update_type: str, dispatcher: Dispatcher) -> None:
    """Run the account's active triggers on a created ("Create") or updated ("Change") ticket."""
    for trigger in sorted(account.triggers.values(), key=lambda t: (t["position"], t["id"])):
        if not trigger["active"]:
            continue
        conditions = trigger["conditions"]
        all_ok = all(_matches(c, ticket, update_type) for c in conditions.get("all") or [])
        any_list = conditions.get("any") or []
        if not all_ok or (any_list and not any(_matches(c, ticket, update_type) for c in any_list)):
            continue
        for action in trigger["actions"]:
            _apply(account, ticket, action, dispatcher)


def _matches(condition: dict[str, Any], ticket: dict[str, Any], update_type: str) -> bool:
    field, operator, value = condition["field"], condition["operator"], condition.get("value")
    if field == "update_type":
        actual: Any = update_type
    elif field == "current_tags":
        tags = set(ticket.get("tags") or [])
        wanted = set(str(value or "").split())
        return bool(tags & wanted) if operator == "includes" else not (tags & wanted)
    else:
        actual = ticket.get(field)
    actual_text = "" if actual is None else str(actual)
    wanted_text = "" if value is None else str(value)
    if field == "status" and operator in ("less_than", "greater_than"):
        a, w = TICKET_STATUSES.index(actual_text), TICKET_STATUSES.index(wanted_text)
        return a < w if operator == "less_than" else a > w
    if operator == "is":
        return actual_text == wanted_text
    if operator == "is_not":
        return actual_text != wanted_text
    return False


def _apply(account: Account, ticket: dict[str, Any], action: dict[str, Any], dispatcher: Dispatcher) -> None:
    field, value = action["field"], action.get("value")
    if field == "notification_webhook":
        webhook_id, template = value
        webhook = account.webhooks.get(webhook_id)
        if webhook and webhook["status"] == "active":
            body = render(template, ticket, account).encode()
            dispatcher.send(account, webhook, body, ticket["id"])
    elif field == "current_tags":
        ticket["tags"] = sorted(set(ticket["tags"]) | set(str(value).split()))
    elif field == "set_tags":
        ticket["tags"] = sorted(set(str(value).split()))
    elif field == "status":
        ticket["status"] = value
    elif field == "group_id":
        ticket["group_id"] = int(value) if value else None


def _to_the_minute(iso: str | None) -> str | None:
    """`2026-12-06T23:19:13Z` as the `*_with_timestamp` placeholders render it: ISO 8601 to the minute
    (`2013-12-12T05:35Z` is the documented example: support.zendesk.com/hc/en-us/articles/4408886858138, Ticket
    data). Not to the second, so it cannot serve as a `safe_update` stamp."""
    return None if iso is None else f"{iso[:16]}Z"


def render(template: str, ticket: dict[str, Any], account: Account) -> str:
    """Fill `{{ticket.*}}` placeholders as Zendesk does: plain text, empty when there is no value."""
    status = str(ticket.get("status") or "")
    values = {
        "ticket.id": ticket["id"],
        "ticket.group.id": ticket.get("group_id"),
        "ticket.assignee.id": ticket.get("assignee_id"),
        "ticket.status": status.capitalize(),
        "ticket.brand.id": ticket.get("brand_id"),
        "ticket.tags": " ".join(ticket.get("tags") or []),
        "ticket.title": ticket.get("subject"),
        "ticket.updated_at_with_timestamp": _to_the_minute(ticket.get("updated_at")),
        "ticket.created_at_with_timestamp": _to_the_minute(ticket.get("created_at")),
        "ticket.account": account.subdomain,
        "ticket.requester.id": ticket.get("requester_id"),
    }
    return _PLACEHOLDER.sub(lambda m: "" if values.get(m.group(1)) is None else str(values.get(m.group(1))), template)
