"""Ticket events: open and daily counts that follow the tickets people assign, solve and reopen by hand.

ticket.agent_assignment_changed and ticket.status_changed carry in `detail` a snapshot of the whole ticket
(assignee_id, group_id, status upper-case, updated_at; developer.zendesk.com/api-reference/webhooks/event-types/
ticket-events/). The snapshot is applied through AgentStore.count with its `updated_at` as `as_of`: an older or
repeated snapshot is a no-op, so duplicates and reordering end where the newest snapshot says.
"""

from __future__ import annotations

from dataclasses import dataclass

from round_robin.events.parsing import Event, MalformedEventError, id_of, parse_time

COUNTED_EVENTS = ("ticket.agent_assignment_changed", "ticket.status_changed")
RESTING = {"solved", "pending", "hold", "closed"}  # statuses a reopened ticket comes back from
WORKING = {"new", "open"}


@dataclass(frozen=True)
class Snapshot:
    ticket_id: int
    assignee_id: int | None
    status: str  # lower-case
    updated_at: float
    previous_status: str | None = None  # a status change's previous status, lower-case


def snapshot(event: Event) -> Snapshot:
    """The ticket as the event's `detail` describes it."""
    detail = event.detail
    ticket_id = id_of(detail.get("id"), "detail.id") or event.subject_id
    status = detail.get("status")
    if not isinstance(status, str) or not status.isalpha() or len(status) > 20:
        raise MalformedEventError("detail.status")
    previous = None
    if event.type == "ticket.status_changed":
        before = event.event.get("previous")
        previous = before.lower() if isinstance(before, str) else None
    return Snapshot(ticket_id, id_of(detail.get("assignee_id"), "detail.assignee_id"), status.lower(),
                    parse_time(detail.get("updated_at"), "detail.updated_at"), previous)


def reopened(ticket: Snapshot) -> bool:
    """A status change back to new or open, from solved, pending or on-hold, of an assigned ticket."""
    return (ticket.assignee_id is not None and ticket.status in WORKING and ticket.previous_status in RESTING)
