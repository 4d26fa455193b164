"""The Zendesk event types the project's event-subscribed webhook receives (developer.zendesk.com/api-reference/
webhooks/event-types/: user-events, agent-availability-events, ticket-events), apart from the API client so that
the webhook receiver can know them without loading it."""

from __future__ import annotations

PREFIX = "zen:event-type:"
TICKET_CREATED = f"{PREFIX}ticket.created"
# Not ticket.created: the trigger already announces new tickets, and both would double the work. Not
# agent.state_changed: it is per channel, and the unified status (agent.unified_state_changed, sent with the same
# version for every change) is what the status map reads, custom statuses included. The Out of Office app's "Agent
# Out?" user field arrives as user.custom_field_changed.
SUBSCRIBED = tuple(f"{PREFIX}{name}" for name in (
    "user.active_changed", "user.suspended_changed", "user.role_changed", "user.custom_role_changed",
    "user.deleted", "user.group_membership_created", "user.group_membership_deleted", "user.custom_field_changed",
    "user.time_zone_changed", "agent.unified_state_changed", "ticket.status_changed",
    "ticket.agent_assignment_changed",
))
