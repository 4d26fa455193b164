"""The durable hand-off between the webhook receiver and the assignment worker: an SQS queue with a DLQ."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from round_robin.aws.clients import storage_error

MAX_DELAY = 12 * 3600  # SQS's longest visibility timeout


@dataclass(frozen=True)
class AssignmentRequest:
    """Assign this ticket of this account (sent by the webhook receiver and by the missed-ticket sweep), or, with
    `reassign_from`, take it from that agent, who is out of office (assignment/absence.py)."""

    subdomain: str
    ticket_id: int
    source: str  # "webhook", "sweep", "absence" or "reopened"
    received_at: float
    invocation_id: str | None = None
    reassign_from: int | None = None

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> AssignmentRequest:
        data = json.loads(text)
        return cls(subdomain=str(data["subdomain"]), ticket_id=int(data["ticket_id"]), source=str(data["source"]),
                   received_at=float(data["received_at"]), invocation_id=data.get("invocation_id"),
                   reassign_from=int(data["reassign_from"]) if data.get("reassign_from") is not None else None)


@dataclass(frozen=True)
class EventMessage:
    """One message of the events queue: a verified Zendesk event ("zendesk") or an operator's notice
    ("agent_changed", "settings_changed", "wake", "absence"), for round_robin.events.handler.EventHandler."""

    subdomain: str
    kind: str
    received_at: float
    payload: dict[str, Any]

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> EventMessage:
        data = json.loads(text)
        payload = data.get("payload")
        return cls(subdomain=str(data["subdomain"]), kind=str(data["kind"]), received_at=float(data["received_at"]),
                   payload=payload if isinstance(payload, dict) else {})


class AssignmentQueue:
    def __init__(self, sqs: Any, url: str) -> None:
        self._sqs = sqs
        self._url = url

    def send(self, request: AssignmentRequest) -> None:
        try:
            self._sqs.send_message(QueueUrl=self._url, MessageBody=request.to_json())
        except (ClientError, BotoCoreError) as exc:
            raise storage_error(exc, "queueing the ticket") from exc

    def delay(self, receipt_handle: str, seconds: float) -> None:
        """Make a received message visible again only after `seconds` (how Retry-After is honoured)."""
        try:
            self._sqs.change_message_visibility(QueueUrl=self._url, ReceiptHandle=receipt_handle,
                                                VisibilityTimeout=max(0, min(MAX_DELAY, int(seconds + 0.999))))
        except (ClientError, BotoCoreError) as exc:
            raise storage_error(exc, "delaying the message") from exc
