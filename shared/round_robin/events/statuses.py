"""Agent status events: Zendesk's unified agent status and the Out of Office app's "Agent Out?" field.

Both are stored on the agent's AGENT item whatever the account's switches say (`settings --zendesk-status on` or
`--ooo-app on` then start from the truth, not from nothing), last writer wins by the event's own order
(AgentStore.change_unless_older):

- agent.unified_state_changed: `event.new_unified_state.name`, lower-cased, ordered by `detail.version` ("the
  version ... orders events": developer.zendesk.com/api-reference/webhooks/event-types/agent-availability-events/),
  kept as `zendesk_status_version`. agent.state_changed (one per channel) is not used: Zendesk sends the unified
  event, with the same version, for every change an agent makes, the account's status map is over unified names
  (custom statuses included), and a channel's state (online/away/offline) is derived from the unified status.
- user.custom_field_changed for the field whose key is `agent_ooo` (the app's "Agent Out?" checkbox; the event
  names the field by id and title, so its key is read once per warm process: `GET /api/v2/user_fields/{id}`),
  ordered by the event's `time`, kept as `ooo_app_at`.
"""

from __future__ import annotations

from typing import Any

from round_robin.events.parsing import Event, MalformedEventError, id_of

OOO_FIELD_KEY = "agent_ooo"  # the Out of Office app's user field (github.com/zendesk/out_of_office_app)
STATUS_ORDER = "zendesk_status_version"
OOO_ORDER = "ooo_app_at"


def unified_status(event: Event) -> tuple[int, str, int]:
    """(agent id, lower-case status name, version) of an agent.unified_state_changed event."""
    agent_id = id_of(event.detail.get("agent_id"), "detail.agent_id") or event.subject_id
    version = event.detail.get("version")
    if not isinstance(version, str | int) or isinstance(version, bool) or not str(version).isdigit():
        raise MalformedEventError("detail.version")
    state = event.event.get("new_unified_state")
    name = state.get("name") if isinstance(state, dict) else None
    if not isinstance(name, str) or not name.strip() or len(name) > 200:
        raise MalformedEventError("event.new_unified_state.name")
    return agent_id, name.strip().lower(), int(str(version))


def custom_field_change(event: Event) -> tuple[int, Any]:
    """(field id, new value) of a user.custom_field_changed event."""
    field = event.event.get("custom_field")
    field_id = id_of(field.get("id"), "event.custom_field.id") if isinstance(field, dict) else None
    if field_id is None:
        raise MalformedEventError("event.custom_field.id")
    return field_id, event.event.get("current")


def checked(value: Any) -> bool:
    """A checkbox field's value as events give it: a boolean (or its text); null is unchecked."""
    return value is True or (isinstance(value, str) and value.strip().lower() in ("true", "1", "yes"))
