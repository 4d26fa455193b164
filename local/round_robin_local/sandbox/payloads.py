"""What an event-subscribed webhook receives: the `detail` and `event` objects of each event type.

Documented (developer.zendesk.com/api-reference/webhooks/event-types/):
- User events (user-events page): `detail` holds created_at, email, external_id, default_group_id, id,
  organization_id, role, updated_at, the ids "returned as a string" ("0" when there is none, as in the "Event
  schema" example); active_changed's `event` is `{"current": false, "previous": true}`; group membership events
  carry `{"group": {"id": "<id>"}}`.
- Agent availability events (agent-availability-events page): `detail` is `{account_id, agent_id, version}`, all
  strings; agent.state_changed's `event` is `{updated_at, previous_state, new_state, channel}`.
- Ticket events (ticket-events page): `detail` lists actor_id, assignee_id, brand_id, created_at, custom_status,
  description, external_id, form_id, group_id, id, is_public, organization_id, priority, requester_id, status,
  subject, submitter_id, tags, type, updated_at, via.channel; enums upper-case and ids strings (the captured
  ticket.created sample, whose `event` is `{}`); `event.meta.sequence` {id, position} groups the events of one
  action.

NOT FOUND in Zendesk's docs, chosen here (the closest documented shape; correct them in this module only):
- suspended_changed, role_changed, time_zone_changed, custom_role_changed: `{"current", "previous"}` as
  active_changed; role names as the API's, time zones as the API's Rails names, custom roles by id as strings
  ("0" for none).
- custom_field_changed: `{"custom_field": {"id", "title", "field_type"}, "current", "previous"}`, after the
  Events Connector's "Custom Field Changed - Checkbox" (developer.zendesk.com/api-reference/amazon-eventbridge/
  users): the field is named by id and title, not by its key.
- deleted: `{}` (the user is in `detail`).
- agent.unified_state_changed: `{"new_unified_state": {id, name, reason}, "previous_unified_state": {...},
  "updated_at"}` with string ids, after the only sample found (Zendesk's agent-presence-tracker script).
- ticket.status_changed, agent_assignment_changed, group_assignment_changed: `{"current", "previous"}` (status
  upper-case, ids as strings, null when unassigned), after the Events Connector's "previous/current" schema.
"""

from __future__ import annotations

from typing import Any

USER_EVENT_VERSION = "2022-06-20"  # the "Event schema" example
TICKET_AND_AGENT_EVENT_VERSION = "2022-11-06"  # the agent.state_changed example and the captured ticket.created


def id_text(value: Any) -> str:
    """An id as event payloads give it: a string, "0" when there is none."""
    return "0" if value is None else str(value)


def user_detail(user: dict[str, Any]) -> dict[str, Any]:
    return {"created_at": user["created_at"], "email": user["email"], "external_id": user.get("external_id") or "",
            "default_group_id": id_text(user.get("default_group_id")), "id": id_text(user["id"]),
            "organization_id": id_text(user.get("organization_id")), "role": user["role"],
            "updated_at": user["updated_at"]}


def agent_detail(account_id: int, agent_id: int, version: int) -> dict[str, Any]:
    return {"account_id": str(account_id), "agent_id": str(agent_id), "version": str(version)}


def ticket_detail(ticket: dict[str, Any], actor_id: int) -> dict[str, Any]:
    def upper(value: Any) -> Any:
        return value.upper() if isinstance(value, str) else value

    def text(value: Any) -> str | None:
        return None if value is None else str(value)

    return {"actor_id": str(actor_id), "assignee_id": text(ticket.get("assignee_id")),
            "brand_id": text(ticket.get("brand_id")), "created_at": ticket["created_at"],
            "custom_status": None,  # the sandbox has no custom ticket statuses
            "description": ticket.get("description") or "", "external_id": None, "form_id": None,
            "group_id": text(ticket.get("group_id")), "id": str(ticket["id"]), "is_public": True,
            "organization_id": None, "priority": upper(ticket.get("priority")),
            "requester_id": text(ticket.get("requester_id")), "status": upper(ticket["status"]),
            "subject": ticket.get("subject"), "submitter_id": text(ticket.get("submitter_id")),
            "tags": list(ticket.get("tags") or []), "type": upper(ticket.get("type")),
            "updated_at": ticket["updated_at"], "via": {"channel": (ticket.get("via") or {}).get("channel")}}


def change(current: Any, previous: Any) -> dict[str, Any]:
    return {"current": current, "previous": previous}


def custom_field_change(user_field: dict[str, Any], current: Any, previous: Any) -> dict[str, Any]:
    field = {"id": str(user_field["id"]), "title": user_field["title"], "field_type": user_field["type"]}
    return {"custom_field": field, **change(current, previous)}


def unified_state(status: dict[str, Any], reason: str) -> dict[str, Any]:
    return {"id": str(status["id"]), "name": status["name"], "reason": reason}


def unified_state_change(current: dict[str, Any], previous: dict[str, Any], reason: str,
                         updated_at: str) -> dict[str, Any]:
    return {"new_unified_state": unified_state(current, reason),
            "previous_unified_state": unified_state(previous, previous.get("reason", "UNKNOWN")),
            "updated_at": updated_at}


def channel_state_change(channel: str, current: str, previous: str, updated_at: str) -> dict[str, Any]:
    return {"updated_at": updated_at, "previous_state": previous, "new_state": current, "channel": channel}


def ticket_field_change(field: str, current: Any, previous: Any) -> dict[str, Any]:
    if field == "status":
        return change(str(current).upper(), str(previous).upper())
    return change(None if current is None else str(current), None if previous is None else str(previous))
