"""A Zendesk event as the handler reads it: the envelope of an event-subscribed webhook's delivery, checked.

The envelope (developer.zendesk.com/api-reference/webhooks/event-types/, the "Event schema"): `type`
("zen:event-type:<domain>.<name>"), `account_id`, `id`, `time` (ISO 8601, UTC; ticket and agent events with
nanoseconds), `zendesk_event_version`, `subject` ("zen:user:<id>", "zen:agent:<id>", "zen:ticket:<id>"), `detail`
and `event` (objects). Ids arrive as strings. Anything else is refused with MalformedEventError: the handler logs
it and drops it, since a retry would not make it valid.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from round_robin.errors import RoundRobinError

TYPE_PREFIX = "zen:event-type:"
_SUBJECT = re.compile(r"zen:(user|agent|ticket):([0-9]{1,20})")
# 2025-01-08T10:12:07Z, 2025-01-08T10:12:07.672717030Z, or with an offset; fractions beyond microseconds are cut.
_TIME = re.compile(r"(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:?\d{2})")


class MalformedEventError(RoundRobinError):
    """The payload is not a Zendesk event the handler can read; `reason` says what is wrong (no payload values)."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"malformed event: {reason}")
        self.reason = reason


@dataclass(frozen=True)
class Event:
    """One Zendesk event: `type` without its "zen:event-type:" prefix (e.g. "user.role_changed")."""

    type: str
    id: str
    time: float  # epoch seconds
    subject_kind: str  # "user", "agent" or "ticket"
    subject_id: int
    detail: dict[str, Any]
    event: dict[str, Any]


def parse_event(payload: Any) -> Event:
    """The typed event of a delivery's JSON object; MalformedEventError when it is not one."""
    if not isinstance(payload, dict):
        raise MalformedEventError("not a JSON object")
    kind = payload.get("type")
    if not isinstance(kind, str) or not kind.startswith(TYPE_PREFIX) or len(kind) > 100:
        raise MalformedEventError("type")
    event_id = payload.get("id")
    if not isinstance(event_id, str) or not event_id or len(event_id) > 100:
        raise MalformedEventError("id")
    subject = payload.get("subject")
    match = _SUBJECT.fullmatch(subject) if isinstance(subject, str) else None
    if match is None:
        raise MalformedEventError("subject")
    detail, event = payload.get("detail"), payload.get("event", {})
    if not isinstance(detail, dict):
        raise MalformedEventError("detail")
    if not isinstance(event, dict):
        raise MalformedEventError("event")
    return Event(type=kind[len(TYPE_PREFIX):], id=event_id, time=parse_time(payload.get("time"), "time"),
                 subject_kind=match.group(1), subject_id=int(match.group(2)), detail=detail, event=event)


def parse_time(value: Any, name: str) -> float:
    """An ISO 8601 time as Zendesk writes them, as epoch seconds; MalformedEventError naming `name` otherwise."""
    match = _TIME.fullmatch(value) if isinstance(value, str) else None
    if match is None:
        raise MalformedEventError(name)
    whole, fraction, offset = match.groups()
    try:
        moment = datetime.fromisoformat(whole + ("+00:00" if offset == "Z" else offset)).astimezone(UTC)
    except ValueError as exc:
        raise MalformedEventError(name) from exc
    return moment.timestamp() + (int(fraction) / 10 ** len(fraction) if fraction else 0.0)


def id_of(value: Any, name: str) -> int | None:
    """An id as events give them (a string of digits; "0", "" or null for none); MalformedEventError otherwise."""
    if value is None or value in ("", "0", 0):
        return None
    text = str(value) if isinstance(value, int) and not isinstance(value, bool) else value
    if not isinstance(text, str) or not text.isascii() or not text.isdigit() or len(text) > 20:
        raise MalformedEventError(name)
    return int(text)
