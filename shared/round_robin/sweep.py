"""Tickets queued again: by the scheduled run (maintenance.py, step 6) parked tickets of an account that is
connected again and the missed-ticket sweep over Zendesk's search (zendesk/tickets.py, `unassigned`); by a connect,
the parked tickets (`requeue_parked`). Waiting tickets are woken in fair rounds by assignment/waiting.py.

Both go through the same idempotent path as webhooks (the queue, then the per-ticket claim), so a ticket queued
twice is still assigned once.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from round_robin.assignment.claims import PARKED, WAITING, AssignmentStore
from round_robin.assignment.rotation import roster_key
from round_robin.aws.queue import AssignmentQueue, AssignmentRequest
from round_robin.observability import MetricUnit, logger, metrics
from round_robin.zendesk import tickets
from round_robin.zendesk.client import ZendeskClient

QUEUE_PER_RUN = 1000  # tickets queued per account per run (waiting + swept)
# The sweep looks no further back than this (and never before the account's first connect): an older unassigned
# ticket is a person's to handle, and old tickets that are never due must not keep the sweep from recent ones.
SWEEP_LOOKBACK = 7 * 86400.0
CONNECT_MARGIN = 600.0  # tickets created while the connect itself ran (before its trigger existed) are swept too


def requeue_parked(assignments: AssignmentStore, queue: AssignmentQueue, subdomain: str, now: float,
                   source: str) -> int:
    """Tickets parked while the connection was broken go back to the queue (each reopened once); a parked
    reassignment goes back as a reassignment from the same agent."""
    # One at a time (parked tickets are few): a ticket reopened is queued at once, so a failure strands at most that
    # one (`pending`: the sweep queues an unassigned one again; a reassignment waits for the absence's next search).
    requeued = 0
    for record in assignments.indexed(subdomain, PARKED, newest_first=False):
        ticket_id = int(record["ticket_id"])
        if assignments.reopen(subdomain, ticket_id, now):
            queue.send(AssignmentRequest(subdomain=subdomain, ticket_id=ticket_id, source=source, received_at=now,
                                         reassign_from=record.get("reassign_from")))
            requeued += 1
    return requeued


class Sweeper:
    """Queues an account's parked and missed tickets, at most QUEUE_PER_RUN a run (with the woken waiting ones)."""

    def __init__(self, *, assignments: AssignmentStore, queue: AssignmentQueue, min_age: float,
                 clock: Callable[[], float] = time.time) -> None:
        self._assignments = assignments
        self._queue = queue
        self._min_age = min_age
        self._clock = clock

    def requeue_parked(self, subdomain: str) -> int:
        """Parked tickets of a connected account: parked by a worker that failed just after a reconnect had queued
        the others (its failure was about the credentials the reconnect replaced)."""
        requeued = requeue_parked(self._assignments, self._queue, subdomain, self._clock(), "parked")
        if requeued:
            logger.info("parked tickets of a connected account queued", subdomain=subdomain, tickets=requeued)
        return requeued

    def sweep(self, subdomain: str, client: ZendeskClient, has_eligible: Callable[[str], bool], queued: int,
              first_connected_at: float | None = None) -> int:
        """Queue the unassigned tickets that no worker holds (maintenance.py's docstring, step 6), created since the
        account's first connect and within SWEEP_LOOKBACK, at most QUEUE_PER_RUN - `queued` (this run's others);
        `has_eligible(group_id)`: whether someone in that group may take a ticket now. Returns how many."""
        now = self._clock()
        not_before = max((first_connected_at or 0.0) - CONNECT_MARGIN, now - SWEEP_LOOKBACK)
        hits = {t["id"]: t for t in tickets.unassigned(client, now - self._min_age, subdomain, after=not_before)}
        claimable = self._assignments.claimable(subdomain, list(hits), now)
        missed = [t for t, record in claimable.items() if _due(record, hits[t], has_eligible)]
        missed = missed[:max(0, QUEUE_PER_RUN - queued)]
        self._queue.send_all([AssignmentRequest(subdomain=subdomain, ticket_id=ticket_id, source="sweep",
                                                received_at=now) for ticket_id in missed])
        if missed:
            metrics.add_metric(name="TicketsSwept", unit=MetricUnit.Count, value=len(missed))
            logger.warning("tickets without a webhook or a live worker queued", subdomain=subdomain, tickets=missed)
        return len(missed)


def _due(record: dict[str, Any] | None, ticket: dict[str, Any], has_eligible: Callable[[str], bool]) -> bool:
    """A claimable ticket the sweep queues: every one never seen, released or whose lease expired, now; a waiting
    one only if someone moved it in Zendesk to another group, one with somebody eligible now. One still in the
    group it waits for is the wake's (waiting.py), which queues no more of them than there are people to take
    them; with nobody eligible, queueing it would only record it waiting again."""
    if record is None or record.get("status") != WAITING:
        return True
    group_id = roster_key(ticket.get("group_id"))
    return group_id != record.get("group_id") and has_eligible(group_id)
