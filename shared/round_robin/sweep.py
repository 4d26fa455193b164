"""Tickets the scheduled run queues again (maintenance.py, steps 5 and 6): waiting tickets whose group now has an
eligible agent, and the missed-ticket sweep over Zendesk's search (zendesk/tickets.py, `unassigned`).

Both go through the same idempotent path as webhooks (the queue, then the per-ticket claim), so a ticket queued
twice is still assigned once.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from round_robin.assignment.claims import WAITING, AssignmentStore
from round_robin.assignment.rotation import roster_key
from round_robin.aws.queue import AssignmentQueue, AssignmentRequest
from round_robin.observability import MetricUnit, logger, metrics
from round_robin.zendesk import tickets
from round_robin.zendesk.client import ZendeskClient

QUEUE_PER_RUN = 1000  # tickets queued per account per run (waiting + swept)


class Sweeper:
    """Queues an account's waiting and missed tickets, at most QUEUE_PER_RUN a run."""

    def __init__(self, *, assignments: AssignmentStore, queue: AssignmentQueue, min_age: float,
                 clock: Callable[[], float] = time.time) -> None:
        self._assignments = assignments
        self._queue = queue
        self._min_age = min_age
        self._clock = clock

    def requeue_waiting(self, subdomain: str, staffed: set[str]) -> set[int]:
        """Queue the waiting tickets whose group now has an eligible agent, oldest first; returns their ids."""
        now = self._clock()
        queued: list[int] = []
        for record in self._assignments.indexed(subdomain, WAITING, newest_first=False):
            if record.get("group_id") in staffed:
                self._queue.send(AssignmentRequest(subdomain=subdomain, ticket_id=record["ticket_id"],
                                                   source="waiting", received_at=record.get("received_at", now)))
                queued.append(record["ticket_id"])
                if len(queued) >= QUEUE_PER_RUN:
                    break
        if queued:
            metrics.add_metric(name="TicketsRequeued", unit=MetricUnit.Count, value=len(queued))
            logger.info("waiting tickets queued", subdomain=subdomain, tickets=queued)
        return set(queued)

    def sweep(self, subdomain: str, client: ZendeskClient, staffed: set[str], queued: set[int]) -> int:
        """Queue the unassigned tickets that no worker holds (maintenance.py's docstring, step 6), other than the
        `queued` ones; returns how many."""
        now = self._clock()
        hits = {t["id"]: t for t in tickets.unassigned(client, now - self._min_age, subdomain)}
        claimable = self._assignments.claimable(subdomain, list(hits), now)
        missed = [t for t, record in claimable.items() if t not in queued and _due(record, hits[t], staffed)]
        missed = missed[:max(0, QUEUE_PER_RUN - len(queued))]
        for ticket_id in missed:
            self._queue.send(AssignmentRequest(subdomain=subdomain, ticket_id=ticket_id, source="sweep",
                                               received_at=now))
        if missed:
            metrics.add_metric(name="TicketsSwept", unit=MetricUnit.Count, value=len(missed))
            logger.warning("tickets without a webhook or a live worker queued", subdomain=subdomain, tickets=missed)
        return len(missed)


def _due(record: dict[str, Any] | None, ticket: dict[str, Any], staffed: set[str]) -> bool:
    """A claimable ticket the sweep queues: a waiting one only once its group, as Zendesk has it now (it may have
    been moved), has an eligible agent; every other one (never seen, released, lease expired) now."""
    if record is None or record.get("status") != WAITING:
        return True
    return roster_key(ticket.get("group_id")) in staffed
