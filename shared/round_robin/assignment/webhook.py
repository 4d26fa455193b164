"""Zendesk webhook deliveries: size limit, signature, replay window, and the two payload shapes we accept.

Signature (developer.zendesk.com/documentation/webhooks/verifying/):
base64(HMAC-SHA256(key = the signing secret string's own bytes, message = timestamp + raw body)).
Zendesk defines no replay window; we refuse timestamps more than REPLAY_WINDOW seconds from now, either way.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from round_robin.accounts.vault import TokenVault
from round_robin.aws.queue import AssignmentQueue, AssignmentRequest
from round_robin.errors import AccountNotFoundError, InvalidSubdomainError, RoundRobinError
from round_robin.zendesk.subdomain import normalize_subdomain

MAX_BODY_BYTES = 256 * 1024
REPLAY_WINDOW = 300.0
TRIGGER_SOURCE = "round-robin-trigger"
TICKET_CREATED = "zen:event-type:ticket.created"


class WebhookRejectedError(RoundRobinError):
    """A delivery we refuse: `status` is the HTTP answer, `reason` the metric dimension."""

    def __init__(self, status: int, reason: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.reason = reason


@dataclass(frozen=True)
class TicketEvent:
    """A new ticket announced by the project's trigger or by a ticket.created event subscription."""

    ticket_id: int
    group_id: str | None


def raw_body(body: str | None, is_base64_encoded: bool) -> bytes:
    """The exact bytes Zendesk signed (API Gateway base64-encodes some bodies)."""
    if body is None:
        return b""
    if is_base64_encoded:
        try:
            return base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError):
            raise WebhookRejectedError(400, "bad_encoding", "the body is not valid base64") from None
    return body.encode("utf-8")


def check_size(body: bytes) -> None:
    if len(body) > MAX_BODY_BYTES:
        raise WebhookRejectedError(413, "too_large", f"the body is over {MAX_BODY_BYTES // 1024} KB")


def signature_of(secret: str, timestamp: str, body: bytes) -> str:
    return base64.b64encode(hmac.new(secret.encode("utf-8"), timestamp.encode("utf-8") + body,
                                     hashlib.sha256).digest()).decode("ascii")


def parse_timestamp(value: str) -> float:
    """Zendesk sends ISO-8601 UTC (`2021-03-25T05:09:27Z`); epoch seconds are accepted too."""
    text = value.strip()
    if text.isdigit():
        return float(text)
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise WebhookRejectedError(401, "bad_timestamp", "the signature timestamp is not a time") from None
    if moment.tzinfo is None:
        raise WebhookRejectedError(401, "bad_timestamp", "the signature timestamp has no time zone")
    return moment.timestamp()


def verify(secret: str, signature: str | None, timestamp: str | None, body: bytes, now: float,
           window: float = REPLAY_WINDOW) -> None:
    """Raise WebhookRejectedError(401) unless `signature` is Zendesk's for `timestamp + body`, sent recently."""
    if not signature or not timestamp:
        raise WebhookRejectedError(401, "missing_signature", "the signature headers are missing")
    if abs(now - parse_timestamp(timestamp)) > window:
        raise WebhookRejectedError(401, "stale_timestamp", "the signature timestamp is outside the replay window")
    expected = signature_of(secret, timestamp, body)
    if not hmac.compare_digest(expected.encode("ascii"), signature.strip().encode("utf-8", "replace")):
        raise WebhookRejectedError(401, "bad_signature", "the signature does not match")


def parse_ticket_event(body: bytes) -> TicketEvent | None:
    """The ticket a verified delivery is about, or None for an event type we do not act on."""
    try:
        payload: Any = json.loads(body)
    except (UnicodeDecodeError, ValueError):
        raise WebhookRejectedError(400, "malformed_json", "the body is not JSON") from None
    if not isinstance(payload, dict):
        raise WebhookRejectedError(400, "malformed_json", "the body is not a JSON object")
    if "type" in payload and "detail" in payload:  # an event subscription (ids arrive as strings)
        if payload["type"] != TICKET_CREATED:
            return None
        detail = payload["detail"] if isinstance(payload["detail"], dict) else {}
        return TicketEvent(_ticket_id(detail.get("id")), _optional_id(detail.get("group_id")))
    return TicketEvent(_ticket_id(payload.get("ticket_id")), _optional_id(payload.get("group_id")))


def _ticket_id(value: Any) -> int:
    if value is None or value == "":
        raise WebhookRejectedError(400, "no_ticket_id", "the body has no ticket id")
    text = str(value).strip()
    if not text.isdigit() or isinstance(value, bool) or len(text) > 19:
        raise WebhookRejectedError(400, "bad_ticket_id", "the ticket id is not a number")
    return int(text)


def _optional_id(value: Any) -> str | None:
    text = "" if value is None else str(value).strip()
    return text if text.isdigit() else None


class WebhookReceiver:
    """Checks a delivery and queues its ticket; never calls Zendesk, so it answers fast whatever Zendesk does."""

    def __init__(self, *, vault: TokenVault, queue: AssignmentQueue, clock: Callable[[], float] = time.time) -> None:
        self._vault = vault
        self._queue = queue
        self._clock = clock

    def accept(self, raw_subdomain: str | None, headers: Mapping[str, str], body: str | None,
               is_base64_encoded: bool) -> AssignmentRequest | None:
        """Queue the delivery's ticket and return the request; None for an event type we ignore.

        Raises WebhookRejectedError: 413 too large, 401 unknown account or bad/stale/missing signature,
        400 a signed body without a usable ticket id. Nothing is stored for a rejected delivery.
        """
        raw = raw_body(body, is_base64_encoded)
        check_size(raw)
        subdomain = _known_subdomain(raw_subdomain)
        try:
            credentials = self._vault.load(subdomain)
        except AccountNotFoundError:
            raise WebhookRejectedError(401, "unknown_account", "unknown account") from None
        if not credentials.webhook_secret:
            raise WebhookRejectedError(401, "unknown_account", "the account has no webhook")
        now = self._clock()
        verify(credentials.webhook_secret, headers.get("x-zendesk-webhook-signature"),
               headers.get("x-zendesk-webhook-signature-timestamp"), raw, now)
        event = parse_ticket_event(raw)
        if event is None:
            return None
        request = AssignmentRequest(subdomain=subdomain, ticket_id=event.ticket_id, source="webhook",
                                    received_at=now, invocation_id=headers.get("x-zendesk-webhook-invocation-id"))
        self._queue.send(request)
        return request


def _known_subdomain(raw: str | None) -> str:
    try:
        return normalize_subdomain(raw)
    except InvalidSubdomainError:
        raise WebhookRejectedError(401, "unknown_account", "unknown account") from None
