"""The maintenance run's count reconciliation: agents' open counts made to agree with Zendesk (maintenance.py).

Ticket events keep the counts up to date (a person assigned a ticket, it was solved, reopened); this run repairs
what lost events left wrong, at most once every RECONCILE_INTERVAL per account:

1. Zendesk's search lists the account's tickets in a counted status (the policy's `counted_statuses`, default new
   and open): one query, oldest first, paged and narrowed past 1,000 (zendesk/tickets.py). Each one with an
   assignee whose marker (agents.py) does not say "open, theirs" is counted for them through AgentStore.count,
   which moves the counts from whoever held it. A marker that already agrees costs a read and no write, so the
   steady state writes nothing but the run's stamp. Search is eventually consistent (a changed ticket shows as
   it was for minutes), so each hit is counted as of its `updated_at`: a ticket event applied since (a person
   reassigned it; the marker keeps that snapshot's time) is newer, and an older hit changes nothing. Records of
   these open tickets that would expire within RENEW_BELOW are kept RECORD_TTL longer: a ticket open for more
   than 90 days keeps its marker, and a solved one's expires as before.
2. Agents whose stored open count then differs from the number of those tickets they hold have stale markers
   (tickets counted open that are no longer open or no longer theirs) or a count no marker explains. Their
   markers counted open are found (AgentStore.held_open, one Query of the account's ticket records), the ones the
   search did not show are read from Zendesk (show_many: search lags and cannot see everything) and counted as
   they are now, as of their `updated_at` too (an event applied after show_many answered is newer). If no marker
   needed that and a count still differs from the markers, it is set to them, with a warning (e.g. a marker that
   expired before this run kept it alive).

Bounds per run: RECONCILE_PAGES search pages and LOOKUP_CALLS show_many calls (25 Zendesk calls, once an hour: 0.2%
of the smallest plan's 12,000 calls an hour, 200 a minute, shared with the customer's other integrations), and
WRITES_PER_RUN corrections (each a transaction of at most three small items); what is left waits for the next
run. The bounds apply to the corrections, not the reads that find them.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from typing import Any

from round_robin.assignment.agents import AgentStore, Marker
from round_robin.assignment.claims import RECORD_TTL
from round_robin.assignment.policy import PolicyStore, policy_from_item
from round_robin.aws.dynamo import conditional_write, serialize
from round_robin.observability import MetricUnit, logger, metrics
from round_robin.table import AVAILABILITY_SK, account_pk
from round_robin.zendesk import tickets
from round_robin.zendesk.client import ZendeskClient

RECONCILE_INTERVAL = 3600.0  # at most once an hour per account (the maintenance runs every 10 minutes)
SLACK = 120.0  # a run that starts a little early (the schedule's jitter) still reconciles
RECONCILE_PAGES = 20  # search pages a run: 2,000 tickets in counted statuses
LOOKUP_CALLS = 5  # show_many calls a run: 500 suspect tickets
WRITES_PER_RUN = 200  # corrections a run: counts moved, records kept, counts set
RENEW_BELOW = 30 * 86400  # a ticket record of an open ticket with less than this left is kept RECORD_TTL longer


class CountReconciler:
    """Repairs an account's open counts against Zendesk (see the module docstring)."""

    def __init__(self, *, agents: AgentStore, table_name: str, dynamodb: Any,
                 clock: Callable[[], float] = time.time, interval: float = RECONCILE_INTERVAL,
                 pages: int = RECONCILE_PAGES, lookups: int = LOOKUP_CALLS, writes: int = WRITES_PER_RUN) -> None:
        self._agents = agents
        self._policies = PolicyStore(table_name, dynamodb)
        self._table = table_name
        self._dynamodb = dynamodb
        self._clock = clock
        self._interval = interval
        self._pages = pages
        self._lookups = lookups
        self._writes = writes

    def reconcile(self, subdomain: str, client: ZendeskClient) -> int:
        """Reconcile the account's counts if it is due; returns how many corrections were made."""
        now = self._clock()
        item = self._policies.item(subdomain)  # the policy (its counted statuses) and the last run's time
        if not self._claim(subdomain, item.get("reconciled_at"), now):
            return 0
        counted = set(policy_from_item(item)[0].counted_statuses)
        found, complete = tickets.in_statuses(client, counted, self._pages)
        holders = {int(t["id"]): int(t["assignee_id"]) for t in found if t.get("assignee_id") is not None}
        seen_at = {int(t["id"]): tickets.updated_at(t) for t in found}
        budget = [self._writes]
        corrected = self._count_found(subdomain, holders, seen_at, now, budget)
        if budget[0] > 0:
            corrected += self._stale(subdomain, client, holders, counted, now, budget)
        else:
            logger.warning("count reconciliation stopped at its bound; the next run goes on", subdomain=subdomain)
        if not complete:
            logger.warning("count reconciliation saw only part of the tickets", subdomain=subdomain,
                           tickets=len(found))
        if corrected:
            metrics.add_metric(name="CountsCorrected", unit=MetricUnit.Count, value=corrected)
            logger.info("counts corrected", subdomain=subdomain, corrections=corrected)
        return corrected

    def _count_found(self, subdomain: str, holders: dict[int, int], seen_at: dict[int, float | None], now: float,
                     budget: list[int]) -> int:
        """Step 1: the search's tickets counted open for their assignee (unless an event applied a newer snapshot
        of the ticket), their records kept alive."""
        corrected = 0
        records = self._agents.records(subdomain, list(holders))
        for ticket_id, agent_id in holders.items():
            if budget[0] <= 0:
                break
            marker, ttl = records.get(ticket_id, (Marker(), None))
            if (marker.agent_id != agent_id or not marker.open) and self._agents.count(
                    subdomain, ticket_id, agent_id, is_open=True, now=now, as_of=seen_at.get(ticket_id)) is not None:
                logger.info("ticket counted for its assignee", subdomain=subdomain, ticket_id=ticket_id,
                            agent_id=agent_id, was=marker.agent_id, was_open=marker.open)
                corrected, budget[0] = corrected + 1, budget[0] - 1
            if ttl is not None and ttl - now < RENEW_BELOW and self._agents.keep(subdomain, ticket_id,
                                                                                  now + RECORD_TTL):
                budget[0] -= 1  # keeping a record alive is upkeep, not a correction of counts
        return corrected

    def _stale(self, subdomain: str, client: ZendeskClient, holders: dict[int, int], counted: set[str],
               now: float, budget: list[int]) -> int:
        """Step 2: the agents whose open count differs from the tickets the search shows them holding."""
        held = Counter(holders.values())
        stored = self._agents.listed(subdomain)  # read before the markers: see the end
        suspects = sorted(a for a, agent in stored.items() if agent.open_count != held.get(a, 0))
        if not suspects:
            return 0
        markers = self._agents.held_open(subdomain, suspects)
        unseen = sorted(t for a, ids in markers.items() for t in ids if holders.get(t) != a)
        looked_up = unseen[:self._lookups * tickets.SHOW_MANY_LIMIT]
        now_in_zendesk = tickets.show_many(client, looked_up) if looked_up else {}
        corrected, newer = 0, False
        holder_of = {t: a for a, ids in markers.items() for t in ids}
        for ticket_id in looked_up:
            if budget[0] <= 0:
                break
            ticket = now_in_zendesk.get(ticket_id)
            was = holder_of[ticket_id]
            assignee: int | None
            as_of: float | None = None  # a deleted ticket is gone for good: no snapshot is newer
            if ticket is None:  # deleted: no longer open, its daily count stays with whoever had it
                assignee, is_open = was, False
            else:
                raw = ticket.get("assignee_id")
                assignee, is_open = (int(raw) if raw is not None else None), ticket.get("status") in counted
                as_of = tickets.updated_at(ticket)
            if assignee == was and is_open:
                continue  # still theirs and open: the search had not shown it (indexing lag, past its bound)
            if self._agents.count(subdomain, ticket_id, assignee, is_open=is_open, now=now, as_of=as_of) is None:
                newer = True  # an event applied a newer snapshot since show_many answered: the marker is newer
                continue
            logger.info("stale count corrected", subdomain=subdomain, ticket_id=ticket_id, agent_id=was,
                        now_agent_id=assignee, open=is_open)
            corrected, budget[0] = corrected + 1, budget[0] - 1
        if corrected or newer or len(looked_up) < len(unseen):
            return corrected  # the markers changed or are not all known: the next run compares again
        # Every marker is now right; a count that still differs has no ticket behind the difference. The agents
        # were read before their markers: an assignment in between changed the count, and the write's condition
        # (the count read) refuses, as it does for one after.
        for agent_id in suspects:
            right, read = len(markers.get(agent_id, [])), stored[agent_id].open_count
            if right != read and budget[0] > 0 and self._agents.set_open_count(subdomain, agent_id, read, right, now):
                logger.warning("open count set to the tickets counted open: no ticket explained the difference",
                               subdomain=subdomain, agent_id=agent_id, was=read, now=right)
                corrected, budget[0] = corrected + 1, budget[0] - 1
        return corrected

    def _claim(self, subdomain: str, last: Any, now: float) -> bool:
        """Whether this run reconciles: due, and no other run took the turn (a conditional write of the time; not
        a settings change, so the availability `version` stays)."""
        due = now - self._interval + SLACK
        if last is not None and float(last) > due:
            return False
        return conditional_write(lambda: self._dynamodb.update_item(
            TableName=self._table, Key=serialize({"pk": account_pk(subdomain), "sk": AVAILABILITY_SK}),
            UpdateExpression="SET reconciled_at = :now",
            ConditionExpression="attribute_not_exists(reconciled_at) OR reconciled_at <= :due",
            ExpressionAttributeValues=serialize({":now": now, ":due": due})), "stamping the count reconciliation") \
            is not None
