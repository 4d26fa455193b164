"""Triggers and signed webhook delivery, as Zendesk documents them.

- Triggers run on every ticket create and update, in order; a matching trigger's `notification_webhook`
  action renders the body template (placeholders as plain text, empty when unknown) and sends it.
- Signature: base64(HMAC-SHA256(key = the secret string's bytes, message = timestamp + body)).
- Delivery retries on 409, on 429/503 with Retry-After under 60 s, and on timeouts, at most 3 times.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import requests

if TYPE_CHECKING:
    from round_robin_local.sandbox.model import Account, Sandbox

CONDITION_FIELDS = {"update_type", "assignee_id", "group_id", "status", "current_tags", "brand_id", "requester_id"}
OPERATORS = {"is", "is_not", "less_than", "greater_than", "includes", "not_includes"}
STATUS_ORDER = ["new", "open", "pending", "hold", "solved", "closed"]
ACTION_FIELDS = {"notification_webhook", "current_tags", "set_tags", "status", "group_id"}
_PLACEHOLDER = re.compile(r"\{\{\s*([a-z0-9_.]+)\s*\}\}")
_LOOPBACK = {"127.0.0.1", "localhost", "::1"}
DELIVERY_TIMEOUT = 12.0
MAX_RETRIES = 3


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """Zendesk's webhook signature of `body` sent at `timestamp`."""
    digest = hmac.new(secret.encode(), timestamp.encode() + body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


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
        a, w = STATUS_ORDER.index(actual_text), STATUS_ORDER.index(wanted_text)
        return a < w if operator == "less_than" else a > w
    if operator == "is":
        return actual_text == wanted_text
    if operator == "is_not":
        return actual_text != wanted_text
    return False


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
        "ticket.updated_at_with_timestamp": ticket.get("updated_at"),
        "ticket.created_at_with_timestamp": ticket.get("created_at"),
        "ticket.account": account.subdomain,
        "ticket.requester.id": ticket.get("requester_id"),
    }
    return _PLACEHOLDER.sub(lambda m: "" if values.get(m.group(1)) is None else str(values.get(m.group(1))), template)


class Dispatcher:
    """Runs triggers after ticket changes and delivers webhooks on a small thread pool."""

    def __init__(self, sandbox: Sandbox, workers: int = 8) -> None:
        self._sandbox = sandbox
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="zendesk-webhook")
        self._session = requests.Session()
        self._stopped = threading.Event()

    def shutdown(self) -> None:
        self._stopped.set()
        self._pool.shutdown(wait=False, cancel_futures=True)

    def ticket_changed(self, account: Account, ticket: dict[str, Any], update_type: str) -> None:
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
                self._apply(account, ticket, action)

    def _apply(self, account: Account, ticket: dict[str, Any], action: dict[str, Any]) -> None:
        field, value = action["field"], action.get("value")
        if field == "notification_webhook":
            webhook_id, template = value
            webhook = account.webhooks.get(webhook_id)
            if webhook and webhook["status"] == "active":
                body = render(template, ticket, account).encode()
                self._enqueue(account, webhook, body, ticket["id"])
        elif field == "current_tags":
            ticket["tags"] = sorted(set(ticket["tags"]) | set(str(value).split()))
        elif field == "set_tags":
            ticket["tags"] = sorted(set(str(value).split()))
        elif field == "status":
            ticket["status"] = value
        elif field == "group_id":
            ticket["group_id"] = int(value) if value else None

    def _enqueue(self, account: Account, webhook: dict[str, Any], body: bytes, ticket_id: int) -> None:
        record = {"invocation_id": str(uuid.uuid4()), "webhook_id": webhook["id"], "ticket_id": ticket_id,
                  "endpoint": webhook["endpoint"], "attempts": [], "status": "queued"}
        account.deliveries.append(record)
        faults = account.delivery_faults
        if faults.get("drop", 0) > 0:
            faults["drop"] -= 1
            record["status"] = "dropped"
            return
        copies = 1
        if faults.get("duplicate", 0) > 0:
            faults["duplicate"] -= 1
            copies = 2
        host = urlsplit(webhook["endpoint"]).hostname
        if host not in _LOOPBACK:
            record["status"] = "refused: the sandbox only delivers to loopback addresses"
            return
        secret = account.webhook_secrets[webhook["id"]]
        for _ in range(copies):
            self._pool.submit(self._deliver, account, webhook, secret, body, record)

    def _deliver(self, account: Account, webhook: dict[str, Any], secret: str, body: bytes,
                 record: dict[str, Any]) -> None:
        for attempt in range(MAX_RETRIES + 1):
            if self._stopped.is_set():
                return
            timestamp = self._sandbox.clock.iso()
            with self._sandbox.lock:
                record.setdefault("sent_at", time.time())
            headers = {
                "Content-Type": "application/json; charset=utf-8",
                "User-Agent": "Zendesk Webhook",
                "X-Zendesk-Account-Id": str(account.id),
                "X-Zendesk-Webhook-Id": webhook["id"],
                "X-Zendesk-Webhook-Invocation-Id": record["invocation_id"],
                "X-Zendesk-Webhook-Signature-Timestamp": timestamp,
                "X-Zendesk-Webhook-Signature": sign(secret, timestamp, body),
            }
            wait = None
            try:
                response = self._session.request(webhook["http_method"], webhook["endpoint"], data=body,
                                                 headers=headers, timeout=DELIVERY_TIMEOUT)
                status: int | str = response.status_code
                retry_after = _seconds(response.headers.get("Retry-After"))
                if status == 409:
                    wait = 1.0
                elif status in (429, 503) and retry_after is not None and retry_after < 60:
                    wait = retry_after
            except requests.Timeout:
                status, wait = "timeout", 1.0
            except requests.RequestException as exc:
                status, wait = type(exc).__name__, None
            with self._sandbox.lock:
                record["attempts"].append(status)
                record["status"] = "delivered" if isinstance(status, int) and status < 300 else "failed"
            if wait is None or attempt == MAX_RETRIES:
                return
            if self._stopped.wait(wait):
                return


def _seconds(value: str | None) -> float | None:
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None
