"""The durable hand-offs: the assignment queue (webhook receiver and sweep -> assignment worker), the batch queue
(assignment worker, when an account's ticket updates are rate-limited -> batch worker), the events
queue (webhook receiver, CLI and maintenance -> events function) and the maintenance queue (the scheduled
dispatcher -> the per-account maintenance function), each an SQS queue with a DLQ."""

from __future__ import annotations

import json
import random
import re
from dataclasses import asdict, dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from round_robin.aws.clients import storage_error
from round_robin.errors import StorageError

MAX_DELAY = 12 * 3600  # SQS's longest visibility timeout
MAX_SEND_DELAY = 900  # SQS's longest DelaySeconds
SEND_BATCH = 10  # SQS's most entries in one SendMessageBatch
EVENT_KINDS = frozenset({"zendesk", "agent_changed", "settings_changed", "wake", "absence"})


def backoff(receive_count: int) -> float:
    """The delay before a message's next attempt when nothing says how long to wait: exponential with jitter,
    about 5 s, 10 s, 20 s, ... for receives 1, 2, 3, at most 15 minutes (SQS's longest delay)."""
    return min(900.0, 5.0 * 2 ** (receive_count - 1)) * random.uniform(0.8, 1.2)


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
    # A ticket postponed by its account's pace (assignment/pace.py): not updated before this time (a wait longer
    # than SQS's longest delay is chained), and with a slot of the account's budget.
    not_before: float | None = None

    def to_json(self) -> str:
        return json.dumps({k: v for k, v in asdict(self).items() if k != "not_before" or v is not None})

    @classmethod
    def from_json(cls, text: str) -> AssignmentRequest:
        data = json.loads(text)
        return cls(subdomain=str(data["subdomain"]), ticket_id=int(data["ticket_id"]), source=str(data["source"]),
                   received_at=float(data["received_at"]), invocation_id=data.get("invocation_id"),
                   reassign_from=int(data["reassign_from"]) if data.get("reassign_from") is not None else None,
                   not_before=float(data["not_before"]) if data.get("not_before") is not None else None)


class AssignmentQueue:
    def __init__(self, sqs: Any, url: str) -> None:
        self._sqs = sqs
        self._url = url

    def send(self, request: AssignmentRequest, delay: float = 0) -> None:
        """Queue the request, delivered after `delay` seconds (SQS DelaySeconds: rounded up, clamped to 0..900)."""
        seconds = max(0, min(MAX_SEND_DELAY, int(delay + 0.999)))
        try:
            self._sqs.send_message(QueueUrl=self._url, MessageBody=request.to_json(), DelaySeconds=seconds)
        except (ClientError, BotoCoreError) as exc:
            raise storage_error(exc, "queueing the ticket") from exc

    def send_all(self, requests: list[AssignmentRequest]) -> None:
        """Queue many tickets, SEND_BATCH a call (the sweep, a wake, an absence); StorageError naming how many SQS
        refused after one retry (the others are queued, and the callers' claims make a second queueing harmless)."""
        refused = _send_batches(self._sqs, self._url, [r.to_json() for r in requests], "queueing the tickets")
        if refused:
            raise StorageError(f"queueing the tickets: SQS refused {len(refused)} of {len(requests)}")

    def delay(self, receipt_handle: str, seconds: float) -> None:
        """Make a received message visible again only after `seconds` (how Retry-After is honoured)."""
        try:
            self._sqs.change_message_visibility(QueueUrl=self._url, ReceiptHandle=receipt_handle,
                                                VisibilityTimeout=max(0, min(MAX_DELAY, int(seconds + 0.999))))
        except (ClientError, BotoCoreError) as exc:
            raise storage_error(exc, "delaying the message") from exc


class BatchQueue(AssignmentQueue):
    """The batch queue: the same AssignmentRequest messages, read a hundred at a time by the batch worker
    (assignment/batch.py), which assigns them with one update_many job per account. `send_all` batches as the
    assignment queue's does."""


@dataclass(frozen=True)
class EventMessage:
    """Something changed that may change who can take tickets: a verified Zendesk event ("zendesk"), an operator's
    change ("agent_changed", "settings_changed", "absence") or a request to drain waiting tickets ("wake")."""

    subdomain: str
    kind: str
    received_at: float
    payload: dict[str, Any]

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> EventMessage:
        """The message, or ValueError/KeyError/TypeError for a body that is not one (an unknown kind included)."""
        data = json.loads(text)
        kind, payload = str(data["kind"]), data["payload"]
        if kind not in EVENT_KINDS:
            raise ValueError(f"unknown event message kind {kind[:40]!r}")
        if not isinstance(payload, dict):
            raise TypeError("the event message's payload is not an object")
        return cls(subdomain=str(data["subdomain"]), kind=kind, received_at=float(data["received_at"]),
                   payload=payload)


class EventQueue:
    def __init__(self, sqs: Any, url: str) -> None:
        self._sqs = sqs
        self._url = url

    def send(self, message: EventMessage, delay: float = 0) -> None:
        """Queue the message, delivered after `delay` seconds (SQS DelaySeconds: clamped to 0..900)."""
        seconds = max(0, min(MAX_SEND_DELAY, int(delay + 0.999)))
        try:
            self._sqs.send_message(QueueUrl=self._url, MessageBody=message.to_json(), DelaySeconds=seconds)
        except (ClientError, BotoCoreError) as exc:
            raise storage_error(exc, "queueing the event") from exc

    def delay(self, receipt_handle: str, seconds: float) -> None:
        """Make a received message visible again only after `seconds`."""
        try:
            self._sqs.change_message_visibility(QueueUrl=self._url, ReceiptHandle=receipt_handle,
                                                VisibilityTimeout=max(0, min(MAX_DELAY, int(seconds + 0.999))))
        except (ClientError, BotoCoreError) as exc:
            raise storage_error(exc, "delaying the event") from exc


MAINTAIN, IMPORT = "maintain", "import"
_IMPORT_KEY = re.compile(r"[0-9a-f]{64}")


# Receives of a maintenance job before it is dead-lettered (the maintenance queue's maxReceiveCount in template.yaml).
JOB_ATTEMPTS = 3


@dataclass(frozen=True)
class MaintenanceJob:
    """Maintain this account, for the scheduled run that started at `run_at` (epoch seconds); or, `kind` "import",
    go on with the agent import stored under `import_key` (assignment/import_job.py; the id's hash, never the id)."""

    subdomain: str
    run_at: float
    kind: str = MAINTAIN
    import_key: str | None = None

    def to_json(self) -> str:
        return json.dumps({k: v for k, v in asdict(self).items() if v is not None})

    @classmethod
    def from_json(cls, text: str) -> MaintenanceJob:
        """The job, or ValueError/KeyError/TypeError for a body that is not one."""
        data = json.loads(text)
        subdomain = data["subdomain"]
        if not isinstance(subdomain, str) or not subdomain:
            raise TypeError("the maintenance job names no account")
        kind = data.get("kind", MAINTAIN)  # jobs queued before imports were jobs have no kind
        if kind == IMPORT:
            key = data.get("import_key")
            if not isinstance(key, str) or not _IMPORT_KEY.fullmatch(key):
                raise ValueError("the import job names no import")
            return cls(subdomain=subdomain, run_at=float(data["run_at"]), kind=IMPORT, import_key=key)
        if kind != MAINTAIN:
            raise ValueError(f"unknown maintenance job kind {str(kind)[:40]!r}")
        return cls(subdomain=subdomain, run_at=float(data["run_at"]))


class MaintenanceQueue:
    def __init__(self, sqs: Any, url: str) -> None:
        self._sqs = sqs
        self._url = url

    def send_all(self, jobs: list[MaintenanceJob]) -> list[str]:
        """Queue the jobs, SEND_BATCH a call; returns the subdomains of the jobs SQS refused (the rest are queued).
        A refused entry is retried once in the next call before it counts as refused."""
        refused = _send_batches(self._sqs, self._url, [job.to_json() for job in jobs], "queueing the maintenance jobs")
        return [jobs[i].subdomain for i in refused]

    def send(self, job: MaintenanceJob) -> None:
        """Queue one job (an import's next step); StorageError if SQS refuses it."""
        if self.send_all([job]):
            raise StorageError("queueing the maintenance job: SQS refused it")

    def delay(self, receipt_handle: str, seconds: float) -> None:
        """Make a received job visible again only after `seconds`."""
        try:
            self._sqs.change_message_visibility(QueueUrl=self._url, ReceiptHandle=receipt_handle,
                                                VisibilityTimeout=max(0, min(MAX_DELAY, int(seconds + 0.999))))
        except (ClientError, BotoCoreError) as exc:
            raise storage_error(exc, "delaying the maintenance job") from exc


def _send_batches(sqs: Any, url: str, bodies: list[str], action: str) -> list[int]:
    """Send the messages SEND_BATCH a call (SendMessageBatch); the indexes of those SQS refused twice (an entry it
    refuses is tried once more in a call of its own)."""
    refused: list[int] = []
    for start in range(0, len(bodies), SEND_BATCH):
        batch = {str(i): bodies[i] for i in range(start, min(start + SEND_BATCH, len(bodies)))}
        for _attempt in range(2):
            try:
                answer = sqs.send_message_batch(QueueUrl=url, Entries=[
                    {"Id": key, "MessageBody": body} for key, body in batch.items()])
            except (ClientError, BotoCoreError) as exc:
                raise storage_error(exc, action) from exc
            batch = {f["Id"]: batch[f["Id"]] for f in answer.get("Failed", [])}
            if not batch:
                break
        refused += [int(key) for key in batch]
    return refused
