"""The assignment queue's dead letters that no longer need anyone: a ticket whose message was dead-lettered (after
every attempt) but which has been assigned since (by the sweep, a redrive, a later delivery) or needed nothing
(a person assigned or solved it). The scheduled run deletes their messages, so the dead-letter alarm stays on only
for tickets a person must still look at; every other message is left, visible again at once, for the operators'
redrive (README, "The dead-letter alarm").

A reassignment (a request with `reassign_from`) counts as done only when its record says the ticket was taken from
that agent: the ticket was assigned before the reassignment was ever asked for.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from round_robin.assignment.claims import ASSIGNED, SKIPPED, AssignmentStore
from round_robin.aws.clients import storage_error
from round_robin.aws.queue import AssignmentRequest
from round_robin.observability import logger

RECEIVE = 10  # SQS's most messages a receive
READ_PER_RUN = 100  # dead letters looked at per run (one receive per 10, one GetItem each)
LOOK_SECONDS = 30  # how long a message looked at stays invisible if it is not handed back at once


@dataclass
class DeadLetterReport:
    looked_at: int = 0
    deleted: int = 0


def is_done(request: AssignmentRequest, record: dict[str, Any] | None) -> bool:
    """Whether the ticket of a dead-lettered request needs nothing more (see the module docstring)."""
    if record is None or record.get("status") not in (ASSIGNED, SKIPPED):
        return False
    if request.reassign_from is not None:
        # Taken from that agent, and not given back to them since (then a new absence may need it again: the
        # reassignment's claim would take such a record).
        return (record.get("reassigned_from") == request.reassign_from
                and record.get("counted_agent_id") != request.reassign_from)
    return True


class DeadLetters:
    """Deletes the dead letters of tickets that no longer need anyone (see the module docstring)."""

    def __init__(self, *, sqs: Any, url: str, assignments: AssignmentStore, read_per_run: int = READ_PER_RUN) -> None:
        self._sqs = sqs
        self._url = url
        self._assignments = assignments
        self._read_per_run = read_per_run

    def clear_done(self) -> DeadLetterReport:
        """Look at up to `read_per_run` dead letters; delete those whose ticket is done, hand the others back.

        The messages looked at stay invisible (LOOK_SECONDS) until the scan ends, so each receive brings new ones;
        then the kept ones are handed back at once."""
        report = DeadLetterReport()
        kept: list[dict[str, Any]] = []
        try:
            while report.looked_at < self._read_per_run:
                messages = self._call("receive_message", QueueUrl=self._url, MaxNumberOfMessages=RECEIVE,
                                      VisibilityTimeout=LOOK_SECONDS, WaitTimeSeconds=0).get("Messages", [])
                if not messages:
                    break
                report.looked_at += len(messages)
                done = [m for m in messages if self._done(m)]
                kept += [m for m in messages if m not in done]
                if done:
                    answer = self._call("delete_message_batch", QueueUrl=self._url, Entries=[
                        {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(done)])
                    report.deleted += len(done) - len(answer.get("Failed", []))
        finally:
            for start in range(0, len(kept), RECEIVE):
                self._hand_back(kept[start:start + RECEIVE])
        if report.deleted:
            logger.info("dead letters of tickets assigned since deleted", deleted=report.deleted,
                        looked_at=report.looked_at)
        return report

    def _done(self, message: dict[str, Any]) -> bool:
        try:
            request = AssignmentRequest.from_json(message["Body"])
        except (ValueError, KeyError, TypeError):
            return False  # not ours to judge: left for the operators
        return is_done(request, self._assignments.get(request.subdomain, request.ticket_id))

    def _hand_back(self, messages: list[dict[str, Any]]) -> None:
        """Make the messages kept visible again at once (for the alarm and the operators' redrive)."""
        if messages:
            self._call("change_message_visibility_batch", QueueUrl=self._url, Entries=[
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"], "VisibilityTimeout": 0}
                for i, m in enumerate(messages)])

    def _call(self, operation: str, **arguments: Any) -> Any:
        try:
            return getattr(self._sqs, operation)(**arguments)
        except (ClientError, BotoCoreError) as exc:
            raise storage_error(exc, "reading the dead-letter queue") from exc
