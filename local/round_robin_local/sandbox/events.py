"""Zendesk events and the webhooks subscribed to them.

A webhook is either connected to triggers (`subscriptions: ["conditional_ticket_events"]`) or subscribed to one
or more Zendesk events (`"zen:event-type:..."` values), never both, and "You can't change an existing webhook's
connection method" (support.zendesk.com/hc/en-us/articles/1260803996569). When an event happens, every active
webhook subscribed to its type receives it, signed and retried as trigger deliveries are (deliveries.py).
Payload shapes: payloads.py.
"""

from __future__ import annotations

import json
import secrets
import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from round_robin_local.sandbox import payloads

if TYPE_CHECKING:
    from round_robin_local.sandbox.deliveries import Dispatcher
    from round_robin_local.sandbox.model import Account, Sandbox

TRIGGER_SUBSCRIPTION = "conditional_ticket_events"
# The event types of developer.zendesk.com/api-reference/webhooks/event-types/ that this sandbox knows by name:
# the user-events, agent-availability-events and ticket-events pages (organization, help center and messaging
# events exist too; a subscription to any name not listed here is refused).
_USER = ("active_changed", "alias_changed", "created", "custom_field_changed", "custom_role_changed",
         "default_group_changed", "deleted", "details_changed", "external_id_changed", "group_membership_created",
         "group_membership_deleted", "identity_changed", "identity_created", "identity_deleted",
         "last_login_changed", "merged", "role_changed", "suspended_changed", "tags_changed", "time_zone_changed")
_AGENT = ("channel_created", "channel_deleted", "groups_updated", "max_capacity_changed", "state_changed",
          "unified_state_changed", "work_item_added", "work_item_removed", "work_item_updated")
_TICKET = ("agent_assignment_changed", "brand_changed", "comment_added", "created", "custom_status_changed",
           "form_changed", "group_assignment_changed", "marked_as_spam", "merged", "permanently_deleted",
           "priority_changed", "soft_deleted", "status_changed", "tags_changed", "undeleted")
EVENT_TYPES = frozenset(
    f"zen:event-type:{domain}.{name}"
    for domain, names in (("user", _USER), ("agent", _AGENT), ("ticket", _TICKET)) for name in names
)
# User attributes whose change is an event of its own, with the attribute each reports.
_USER_CHANGES = {"active": "active_changed", "suspended": "suspended_changed", "role": "role_changed",
                 "time_zone": "time_zone_changed"}
_TICKET_CHANGES = {"status": "status_changed", "assignee_id": "agent_assignment_changed",
                   "group_id": "group_assignment_changed"}


def subscription_problem(subscriptions: Any) -> str | None:
    """Why a webhook's `subscriptions` are invalid, or None: either exactly ["conditional_ticket_events"], or
    one or more known event types ("specify one or more event types ... To connect the webhook to a trigger or
    automation, specify only "conditional_ticket_events"": the Webhooks API's `subscriptions` field)."""
    if not isinstance(subscriptions, list) or not subscriptions or not all(isinstance(s, str) for s in subscriptions):
        return "subscriptions must be a non-empty array of strings"
    if TRIGGER_SUBSCRIPTION in subscriptions:
        return None if subscriptions == [TRIGGER_SUBSCRIPTION] else \
            "conditional_ticket_events cannot be combined with other subscriptions"
    unknown = sorted(set(subscriptions) - EVENT_TYPES)
    return f"unknown event types: {', '.join(unknown)}" if unknown else None


def is_event_subscribed(webhook: dict[str, Any]) -> bool:
    return TRIGGER_SUBSCRIPTION not in webhook["subscriptions"]


class Events:
    """Builds each event and hands it to the dispatcher for every active webhook subscribed to its type."""

    def __init__(self, sandbox: Sandbox, dispatcher: Dispatcher) -> None:
        self.sandbox = sandbox
        self.dispatcher = dispatcher

    def emit(self, account: Account, name: str, subject: str, detail: dict[str, Any], event: dict[str, Any],
             *, ticket_id: int | None = None) -> None:
        """Deliver the event `zen:event-type:<name>` about `subject` to the webhooks subscribed to it."""
        event_type = f"zen:event-type:{name}"
        webhooks = [w for w in account.webhooks.values() if w["status"] == "active" and event_type in w["subscriptions"]]
        if not webhooks:
            return
        user_event = name.startswith("user.")
        body = json.dumps({
            "type": event_type, "account_id": account.id,
            # User events carry a UUID (the "Event schema" example), agent events a ULID-like id (their example).
            "id": str(uuid.uuid4()) if not name.startswith("agent.") else _ulid_like(),
            "time": self.sandbox.clock.iso() if user_event else self._precise_time(),
            "zendesk_event_version": payloads.USER_EVENT_VERSION if user_event
            else payloads.TICKET_AND_AGENT_EVENT_VERSION,
            "subject": subject, "detail": detail, "event": event,
        }).encode()
        for webhook in webhooks:
            self.dispatcher.send(account, webhook, body, ticket_id, event_type=event_type, subject=subject)

    # -- users -------------------------------------------------------------------------------------------

    def user_changed(self, account: Account, before: dict[str, Any], user: dict[str, Any]) -> None:
        """The events of one update of `user` (its state `before` it)."""
        subject, detail = f"zen:user:{user['id']}", payloads.user_detail(user)
        for attribute, name in _USER_CHANGES.items():
            if before.get(attribute) != user.get(attribute):
                self.emit(account, f"user.{name}", subject, detail,
                          payloads.change(user.get(attribute), before.get(attribute)))
        if (before.get("custom_role_id"), before.get("role_type")) != (user.get("custom_role_id"), user.get("role_type")):
            self.emit(account, "user.custom_role_changed", subject, detail, payloads.change(
                payloads.id_text(user.get("custom_role_id")), payloads.id_text(before.get("custom_role_id"))))
        for user_field in account.user_fields.values():
            key = user_field["key"]
            old, new = (before.get("user_fields") or {}).get(key), (user.get("user_fields") or {}).get(key)
            if old != new:
                self.emit(account, "user.custom_field_changed", subject, detail,
                          payloads.custom_field_change(user_field, new, old))

    def user_deleted(self, account: Account, user: dict[str, Any]) -> None:
        self.emit(account, "user.deleted", f"zen:user:{user['id']}", payloads.user_detail(user), {})

    def membership(self, account: Account, membership: dict[str, Any], *, created: bool) -> None:
        user = account.users[membership["user_id"]]
        self.emit(account, f"user.group_membership_{'created' if created else 'deleted'}", f"zen:user:{user['id']}",
                  payloads.user_detail(user), {"group": {"id": str(membership["group_id"])}})

    # -- agents ------------------------------------------------------------------------------------------

    def agent_status_changed(self, account: Account, agent_id: int, previous: dict[str, Any],
                             current: dict[str, Any], version: int) -> None:
        """The unified status event, then one per-channel event for each channel whose state changed."""
        subject, detail = f"zen:agent:{agent_id}", payloads.agent_detail(account.id, agent_id, version)
        updated_at = current["updated_at"]
        self.emit(account, "agent.unified_state_changed", subject, detail,
                  payloads.unified_state_change(current, previous, current["reason"], updated_at))
        for channel, state in current["channels"].items():
            if previous["channels"].get(channel) != state:
                self.emit(account, "agent.state_changed", subject, detail, payloads.channel_state_change(
                    channel, state, previous["channels"].get(channel, "offline"), updated_at))

    # -- tickets -----------------------------------------------------------------------------------------

    def ticket_created(self, account: Account, ticket: dict[str, Any], actor_id: int) -> None:
        self.emit(account, "ticket.created", f"zen:ticket:{ticket['id']}", payloads.ticket_detail(ticket, actor_id),
                  {}, ticket_id=ticket["id"])

    def ticket_changed(self, account: Account, before: dict[str, Any], ticket: dict[str, Any], actor_id: int) -> None:
        """The status, assignee and group events of one update (its triggers' actions included), in one sequence."""
        changed = [(field, name) for field, name in _TICKET_CHANGES.items() if before.get(field) != ticket.get(field)]
        sequence = secrets.token_hex(16).upper()
        detail = payloads.ticket_detail(ticket, actor_id)
        for position, (field, name) in enumerate(changed, start=1):
            body = {**payloads.ticket_field_change(field, ticket.get(field), before.get(field)),
                    "meta": {"sequence": {"id": sequence, "position": position}}}
            self.emit(account, f"ticket.{name}", f"zen:ticket:{ticket['id']}", detail, body, ticket_id=ticket["id"])

    def _precise_time(self) -> str:
        """ISO 8601 with nanoseconds, as in the agent and ticket event examples."""
        now = self.sandbox.clock.now()
        whole = datetime.fromtimestamp(int(now), UTC).strftime("%Y-%m-%dT%H:%M:%S")
        return f"{whole}.{int((now % 1) * 1e9):09d}Z"


def _ulid_like() -> str:
    alphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford base32, as the example id "01GX79ST1QX01C889XV42S2J5T"
    return "01" + "".join(secrets.choice(alphabet) for _ in range(24))
