"""Waiting tickets and fair catch-up: a ticket whose group had nobody eligible waits (claims.py, `waiting`); when
people become eligible again it is queued, oldest first, and spread across everyone eligible.

A wake works in rounds. Each round, per group with waiting tickets (each group's own, oldest first: a backlog in
one group never hides another group's tickets), it asks the selection who is eligible now
(Selector.eligible_agents: the same reads and rule the worker uses) and queues at most one ticket per eligible
agent: k eligible -> the k oldest. The worker's rotation then hands those out one each, so the first person back is
never handed the whole backlog, and someone who was away does not catch up on what they missed (the rotation only
ever gives the next eligible agent one ticket). If tickets remain, the next round is scheduled DRAIN_INTERVAL
later (an events-queue "wake" message); a group with nobody eligible queues nothing and schedules nothing, so
tickets never cycle while everyone is away.

Two wakes at once (two status events) never queue a ticket twice in a round: each ticket is marked `woken_at`
conditionally first, and a ticket another wake marked counts against this wake's k. The per-ticket claim stays
the guard for exactly-once assignment.

Also here: the worker's request for a wake when a waiting ticket's group may become eligible by itself within SQS's
delay limit (`wake_at`), and the maintenance check of tickets waiting longer than the account's
`waiting_alert_minutes` (`alert_overdue`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from round_robin.accounts.alerts import ConnectionAlerts
from round_robin.assignment.claims import AssignmentStore
from round_robin.assignment.selection import Selector
from round_robin.aws.queue import AssignmentQueue, AssignmentRequest
from round_robin.observability import MetricUnit, logger, metrics

# Between two rounds. Long enough that people coming back together (the start of a shift, a team's status
# events arriving over a few seconds) are all counted in the next round, and that the worker has taken the
# previous round's tickets (seconds) before the next one counts who is eligible; short enough that 100 tickets
# waiting for 5 agents drain in under 7 minutes.
DRAIN_INTERVAL = 20.0
# Waiting tickets are indexed per group (round_robin/table.py), so a wake reads each group's oldest tickets
# whatever other groups hold: at most PER_GROUP + 1 a group. The alert reads at most READ_LIMIT overdue tickets a
# group and ALERT_READ_LIMIT in all (each newly overdue ticket is reported once, so a backlog's oldest are enough).
READ_LIMIT = 1000
ALERT_READ_LIMIT = 5000
MOVE_LIMIT = 1000  # old-shape waiting records moved under their group per wake or alert (table.py)
PER_GROUP = 100  # tickets queued per group per round, however many are eligible
MAX_SCHEDULE_DELAY = 900.0  # SQS's longest DelaySeconds: later wakes are left to the maintenance run
WAKE_MARGIN = 1.0  # a wake asked for `at` arrives just after it, when the agent's verdict has changed

# schedule(subdomain, group_ids, round, delay): send a "wake" message to the events queue after `delay` seconds.
Schedule = Callable[[str, list[str] | None, int, float], None]


class Waker:
    """Queues waiting tickets fairly when people become eligible (see the module docstring)."""

    def __init__(self, *, assignments: AssignmentStore, selector: Selector, queue: AssignmentQueue,
                 schedule: Schedule, alerts: ConnectionAlerts) -> None:
        self._assignments = assignments
        self._selector = selector
        self._queue = queue
        self._schedule = schedule
        self._alerts = alerts
        self._asked: dict[tuple[str, str, float], None] = {}  # wakes this warm worker already asked for

    def wake(self, subdomain: str, group_ids: Iterable[str] | None, now: float, round: int = 0) -> int:
        """One round: queue the oldest waiting tickets of these groups (None: all), at most one per agent eligible
        now, and schedule the next round if some remain; returns how many were queued."""
        self._move_old(subdomain)
        groups = self._assignments.waiting_groups(subdomain) if group_ids is None else sorted(set(group_ids))
        waiting: dict[str, list[dict[str, Any]]] = {}
        for group_id in groups:
            records = self._assignments.waiting(subdomain, group_id, limit=PER_GROUP + 1) if group_id else []
            if records:
                waiting[group_id] = records
        requests: list[AssignmentRequest] = []
        again: list[str] = []
        for group_id, records in waiting.items():
            eligible = len(self._selector.eligible_agents(subdomain, group_id, now))
            turn = records[:min(eligible, PER_GROUP)]
            # A ticket another wake marked in this round is in that wake's share of it: skipped, not replaced.
            woken = [r for r in turn if self._assignments.mark_woken(subdomain, r["ticket_id"], now, DRAIN_INTERVAL)]
            requests += [AssignmentRequest(subdomain=subdomain, ticket_id=int(record["ticket_id"]), source="waiting",
                                           received_at=record.get("received_at", now)) for record in woken]
            if woken and len(records) > len(turn):
                again.append(group_id)
        # Ten a call. A ticket SQS refuses stays waiting, marked woken: the next round (or maintenance) takes it.
        self._queue.send_all(requests)
        queued = [r.ticket_id for r in requests]
        if queued:
            metrics.add_metric(name="TicketsRequeued", unit=MetricUnit.Count, value=len(queued))
            logger.info("waiting tickets queued", subdomain=subdomain, tickets=queued, round=round)
        if again:
            self._schedule(subdomain, again, round + 1, DRAIN_INTERVAL)
        return len(queued)

    def _move_old(self, subdomain: str) -> None:
        """Waiting records of the old index shape go under their group (table.py), a bounded batch per call."""
        moved = self._assignments.move_old_waiting(subdomain, MOVE_LIMIT)
        if moved:
            logger.info("waiting tickets moved under their group in the index", subdomain=subdomain, moved=moved,
                        more=moved == MOVE_LIMIT)

    def wake_at(self, subdomain: str, group_id: str, at: float, now: float) -> None:
        """Ask for a wake of the group at `at` (when one of its agents may become eligible by itself), if that is
        within SQS's delay limit; a later one is left to the maintenance run."""
        delay = max(0.0, at - now) + WAKE_MARGIN
        key = (subdomain, group_id, at)
        if delay > MAX_SCHEDULE_DELAY or key in self._asked:
            return
        # Tickets waiting for the same change need one wake: remembered until it is due.
        self._asked = {k: None for k in self._asked if k[2] > now}
        self._asked[key] = None
        self._schedule(subdomain, [group_id], 0, delay)

    def alert_overdue(self, subdomain: str, now: float) -> int:
        """Count the tickets waiting longer than the account's waiting_alert_minutes (metric
        TicketsWaitingTooLong) and alert the operators once per ticket; returns how many were newly reported."""
        minutes = self._selector.policy(subdomain).waiting_alert_minutes  # availability.model.AccountPolicy
        self._move_old(subdomain)
        cutoff = now - minutes * 60
        overdue: list[dict[str, Any]] = []
        for group_id in self._assignments.waiting_groups(subdomain):  # each group's oldest, whatever others hold
            if len(overdue) >= ALERT_READ_LIMIT:
                logger.warning("waiting alert cut short: too many tickets waiting too long", subdomain=subdomain,
                               read=len(overdue))
                break
            records = self._assignments.waiting(subdomain, group_id, limit=READ_LIMIT, received_before=cutoff)
            overdue += [r for r in records if now - float(r.get("received_at", now)) > minutes * 60]
        overdue.sort(key=lambda r: float(r["received_at"]))
        if not overdue:
            return 0
        metrics.add_metric(name="TicketsWaitingTooLong", unit=MetricUnit.Count, value=len(overdue))
        new = {int(r["ticket_id"]): str(r.get("reason", "")) for r in overdue
               if "alerted_at" not in r and self._assignments.mark_alerted(subdomain, int(r["ticket_id"]), now)}
        self._alerts.waiting_too_long(subdomain, new, int((now - float(overdue[0]["received_at"])) // 60))
        return len(new)
