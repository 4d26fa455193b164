"""Zendesk webhook deliveries: size limit, signature, replay window, and the payload shapes we accept.

Two webhooks of ours post to one account URL (zendesk/hooks.py), each signed with its own secret: the trigger's
(a new ticket: to the assignment queue) and the event-subscribed one (Zendesk events: a ticket.created to the
assignment queue, any other subscribed type to the events queue; an unsubscribed type is ignored).

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
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from round_robin.accounts.vault import SigningSecretStore
from round_robin.aws.queue import AssignmentQueue, AssignmentRequest, EventMessage, EventQueue
from round_robin.errors import AccountNotFoundError, InvalidSubdomainError, RoundRobinError
from round_robin.zendesk.event_types import SUBSCRIBED, TICKET_CREATED
from round_robin.zendesk.subdomain import normalize_subdomain

MAX_BODY_BYTES = 256 * 1024
REPLAY_WINDOW = 300.0
MAX_DEPTH = 32  # JSON nesting we parse; Zendesk's payloads use 3 (json's recursion would fail near 1000)
MAX_ID = 2**63 - 1  # Zendesk ids are 64-bit integers
REREAD_SECONDS = 10  # a delivery naming a webhook we do not know re-reads the account's secrets at most this often
MAX_MESSAGE_BYTES = 256 * 1024  # SQS's largest message body
_SUBSCRIBED = frozenset(SUBSCRIBED)


class WebhookRejectedError(RoundRobinError):
    """A delivery we refuse: `status` is the HTTP answer, `reason` the metric dimension."""

    def __init__(self, status: int, reason: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.reason = reason


# One answer for every delivery we cannot authenticate, whatever the reason, so that the answer does not tell
# which accounts are connected (the reason goes to the logs and the metric only).
UNAUTHENTIC = "the signature is missing, wrong or stale, or the account is not connected"


def unauthentic(reason: str) -> WebhookRejectedError:
    return WebhookRejectedError(401, reason, UNAUTHENTIC)


@dataclass(frozen=True)
class TicketEvent:
    """A new ticket announced by the project's trigger or by a ticket.created event subscription."""

    ticket_id: int


@dataclass(frozen=True)
class ZendeskEvent:
    """A verified Zendesk event of a type the events webhook subscribes to (other than ticket.created)."""

    type: str
    payload: dict[str, Any]


def raw_body(body: str | None, is_base64_encoded: bool) -> bytes:
    """The exact bytes Zendesk signed (API Gateway base64-encodes some bodies)."""
    if body is None:
        return b""
    if is_base64_encoded:
        try:
            return base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError):
            raise WebhookRejectedError(400, "bad_encoding", "the body is not valid base64") from None
    try:
        return body.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates: bytes that were not UTF-8, and not base64-encoded either
        raise WebhookRejectedError(400, "bad_encoding", "the body is not valid UTF-8") from None


def check_size(body: bytes) -> None:
    if len(body) > MAX_BODY_BYTES:
        raise WebhookRejectedError(413, "too_large", f"the body is over {MAX_BODY_BYTES // 1024} KB")


def signature_of(secret: str, timestamp: str, body: bytes) -> str:
    return base64.b64encode(hmac.new(secret.encode("utf-8"), timestamp.encode("utf-8") + body,
                                     hashlib.sha256).digest()).decode("ascii")


# ASCII digits only: str.isdigit() and int() also take superscripts, Arabic-Indic and full-width digits.
_DIGITS = re.compile(r"[0-9]{1,19}")
_MAX_TIMESTAMP_LENGTH = 40


def parse_timestamp(value: str) -> float:
    """Zendesk sends ISO-8601 UTC (`2021-03-25T05:09:27Z`); epoch seconds are accepted too. ASCII only."""
    text = value.strip()
    if not text.isascii() or len(text) > _MAX_TIMESTAMP_LENGTH:
        raise unauthentic("bad_timestamp")
    if _DIGITS.fullmatch(text):
        return float(text)
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise unauthentic("bad_timestamp") from None
    if moment.tzinfo is None:
        raise unauthentic("bad_timestamp")
    return moment.timestamp()


def verify(secret: str, signature: str | None, timestamp: str | None, body: bytes, now: float,
           window: float = REPLAY_WINDOW) -> None:
    """Raise WebhookRejectedError(401) unless `signature` is Zendesk's for `timestamp + body`, sent recently."""
    if not signature or not timestamp:
        raise unauthentic("missing_signature")
    if abs(now - parse_timestamp(timestamp)) > window:
        raise unauthentic("stale_timestamp")
    expected = signature_of(secret, timestamp, body)
    if not hmac.compare_digest(expected.encode("ascii"), signature.strip().encode("utf-8", "replace")):
        raise unauthentic("bad_signature")


# Strings are removed before brackets are counted, so `"[[["` is not nesting (RFC 8259 section 7): escapes go
# first (`\"` is not a quote), then every other piece between quotes is a string. Linear, no regex backtracking.
_ESCAPE = re.compile(rb"\\.", re.DOTALL)
# Only the depth matters here: `{}` become `[]`; mismatched pairs are json.loads's to refuse.
_AS_BRACKETS = bytes.maketrans(b"{}", b"[]")
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")


def check_depth(body: bytes, limit: int = MAX_DEPTH) -> None:
    """Refuse JSON nested deeper than `limit` before json.loads recurses into it (a cheap scan, no parse).

    Each round removes the innermost `[]` pairs, one level; a body of depth d is empty after d rounds.
    """
    outside_strings = b"".join((_ESCAPE.sub(b"", body) if b"\\" in body else body).split(b'"')[::2])
    brackets = outside_strings.translate(_AS_BRACKETS, _NOT_BRACKETS)
    if brackets.count(b"[") <= limit:
        return  # cannot be deeper than its number of openings (every real payload ends here)
    for _ in range(limit):
        inner = brackets.replace(b"[]", b"")
        if len(inner) == len(brackets):
            break  # nothing left to close
        brackets = inner
    # Left over: pairs deeper than the limit, or unbalanced openings (which json.loads would recurse into too).
    if b"[]" in brackets or brackets.count(b"[") > limit:
        raise WebhookRejectedError(400, "too_deep", f"the body is JSON nested deeper than {limit} levels")


def parse_delivery(body: bytes) -> TicketEvent | ZendeskEvent | None:
    """What a verified delivery is: a new ticket, a subscribed event, or None for an event type we do not act on.

    An event subscription's body is an envelope with a `type` (the trigger's body has none) and a `detail` object
    (developer.zendesk.com/documentation/webhooks/event-types/); ids in it arrive as strings.
    """
    check_depth(body)
    try:
        payload: Any = json.loads(body)
    except (UnicodeDecodeError, ValueError):
        raise WebhookRejectedError(400, "malformed_json", "the body is not JSON") from None
    if not isinstance(payload, dict):
        raise WebhookRejectedError(400, "malformed_json", "the body is not a JSON object")
    if "type" not in payload:
        return TicketEvent(_ticket_id(payload.get("ticket_id")))
    event_type, detail = payload["type"], payload.get("detail")
    if not isinstance(event_type, str) or not isinstance(detail, dict):
        raise WebhookRejectedError(400, "bad_event", "the event needs a string `type` and an object `detail`")
    if event_type == TICKET_CREATED:
        return TicketEvent(_ticket_id(detail.get("id")))
    if event_type in _SUBSCRIBED:
        return ZendeskEvent(event_type, payload)
    return None


def _ticket_id(value: Any) -> int:
    if value is None or value == "":
        raise WebhookRejectedError(400, "no_ticket_id", "the body has no ticket id")
    ticket_id = _id(value)
    if ticket_id is None:
        raise WebhookRejectedError(400, "bad_ticket_id", "the ticket id is not a positive whole number")
    return ticket_id


def _id(value: Any) -> int | None:
    """A Zendesk id sent as a JSON number or a string of ASCII digits (placeholders render as strings)."""
    if isinstance(value, bool) or not isinstance(value, int | str):
        return None
    text = str(value).strip()
    if not _DIGITS.fullmatch(text):
        return None
    number = int(text)
    return number if 0 < number <= MAX_ID else None


class WebhookReceiver:
    """Checks a delivery and queues its ticket or event; never calls Zendesk, so it answers fast whatever Zendesk
    does.

    It reads only the accounts' webhook signing secrets (SigningSecretStore), never their tokens.
    """

    def __init__(self, *, secrets: SigningSecretStore, queue: AssignmentQueue, events: EventQueue,
                 clock: Callable[[], float] = time.time) -> None:
        self._secrets = secrets
        self._queue = queue
        self._events = events
        self._clock = clock

    def accept(self, raw_subdomain: str | None, headers: Mapping[str, str], body: str | None,
               is_base64_encoded: bool) -> AssignmentRequest | EventMessage | None:
        """Queue the delivery's ticket (assignment queue) or event (events queue) and return what was queued; None
        for an event type we ignore.

        Raises WebhookRejectedError: 413 too large; 401, always with the same message, for an unknown account or
        webhook and a bad, stale or missing signature; 400 a signed body without a usable ticket id, or an event
        without a string `type` and an object `detail`. Nothing is stored for a rejected delivery.
        """
        raw = raw_body(body, is_base64_encoded)
        check_size(raw)
        subdomain = _known_subdomain(raw_subdomain)
        webhook_id = headers.get("x-zendesk-webhook-id")
        signature = headers.get("x-zendesk-webhook-signature")
        timestamp = headers.get("x-zendesk-webhook-signature-timestamp")
        candidates = self._candidate_secrets(subdomain, webhook_id)
        now = self._clock()
        try:
            _verify_any(candidates, signature, timestamp, raw, now)
        except WebhookRejectedError as refused:
            # A secret reset in Zendesk (and stored by a reconnect) since the copy was cached: read again, at most
            # once every REREAD_SECONDS, rather than refuse its deliveries for the cache's whole lifetime.
            if refused.reason != "bad_signature":
                raise
            fresher = self._candidate_secrets(subdomain, webhook_id, max_age=REREAD_SECONDS)
            if fresher == candidates:
                raise
            _verify_any(fresher, signature, timestamp, raw, now)
        event = parse_delivery(raw)
        if event is None:
            return None
        if isinstance(event, ZendeskEvent):
            message = EventMessage(subdomain=subdomain, kind="zendesk", received_at=now, payload=event.payload)
            if len(message.to_json()) > MAX_MESSAGE_BYTES:  # escapes can make the queued form longer than the body
                raise WebhookRejectedError(413, "too_large", "the event is too large to queue")
            self._events.send(message)
            return message
        request = AssignmentRequest(subdomain=subdomain, ticket_id=event.ticket_id, source="webhook",
                                    received_at=now, invocation_id=headers.get("x-zendesk-webhook-invocation-id"))
        self._queue.send(request)
        return request

    def _candidate_secrets(self, subdomain: str, webhook_id: str | None, max_age: float | None = None) -> list[str]:
        """The secret of the webhook the delivery names (X-Zendesk-Webhook-Id, sent on every delivery:
        developer.zendesk.com/documentation/webhooks/webhook-security-and-authentication/).

        Without the header (a proxy in front that drops unknown headers) each of the account's secrets is tried:
        there are at most two, each a full-strength secret of this very account, so this accepts nothing that
        one of them alone would not.
        """
        try:
            secrets = (self._secrets.load(subdomain) if max_age is None
                       else self._secrets.load(subdomain, max_age=max_age))
            if not webhook_id:
                return list(secrets.values())
            if webhook_id not in secrets:  # a webhook created by a reconnect since the copy was cached?
                secrets = self._secrets.load(subdomain, max_age=REREAD_SECONDS)
        except AccountNotFoundError:
            raise unauthentic("unknown_account") from None
        if webhook_id not in secrets:
            raise unauthentic("unknown_webhook")
        return [secrets[webhook_id]]


def _verify_any(secrets: list[str], signature: str | None, timestamp: str | None, body: bytes, now: float) -> None:
    refusal = unauthentic("unknown_webhook")
    for secret in secrets:
        try:
            verify(secret, signature, timestamp, body, now)
            return
        except WebhookRejectedError as exc:
            refusal = exc
    raise refusal


def _known_subdomain(raw: str | None) -> str:
    try:
        return normalize_subdomain(raw)
    except InvalidSubdomainError:
        raise unauthentic("unknown_account") from None
