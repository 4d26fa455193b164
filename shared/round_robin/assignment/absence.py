"""Absence: when an agent's out of office starts, their tickets go to their backup, or through the rotation.

Per account, `AccountPolicy.reassign` says what starting out of office reassigns: nothing ("off", the default),
the agent's new tickets ("new"), or their new and open ones ("open"). An agent is out of office by the service's
own status (`ooo`, from `ooo_from` until the start of their return date `ooo_until`, when the account follows its
own status) or by the Out of Office app's "Agent Out?" field (when the account follows the app).

`Absences` finds the agent's tickets with Zendesk's search and queues one AssignmentRequest per ticket with
`reassign_from` (source "absence"); a reopened ticket of an absent assignee is queued the same way (source
"reopened"). The worker (assigner.py) then claims each ticket for the reassignment (claims.py), re-reads it, and
proceeds only while it is still the absent agent's and in a status the policy covers; it takes the backup if they
may take the ticket (selection.Selector.backup), else the rotation's next eligible agent, and PUTs with
`safe_update`, so a person's own change is never overwritten.

Each absence is reassigned once: the AGENT item keeps `reassigned_for`, the key of the absence last handled (its
start, return date and backup; "app" for the app's field). `due`, run by maintenance, handles the absences that
started since (an `ooo` scheduled with a future `ooo_from` starts by itself) and forgets the key of an agent who is
back, so their next absence is handled too. An absence counts as handled only once its search read all of the
agent's tickets: an event reads EVENT_PAGES pages (the events function has 30 s), maintenance up to
tickets.ABSENCE_PAGES a run, and an absence cut short is searched again by the next run. A search that queues
tickets twice (a search cut short, or a crash before the key is written) is harmless: the claim stops a ticket
already reassigned from that agent.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from round_robin.accounts.tokens import TokenManager
from round_robin.assignment.agents import AgentRecord, AgentStore
from round_robin.assignment.policy import PolicyStore
from round_robin.availability.model import OUT_OF_OFFICE, AccountPolicy
from round_robin.availability.rules import own_status
from round_robin.aws.queue import AssignmentQueue, AssignmentRequest
from round_robin.errors import ZendeskUnauthorizedError
from round_robin.observability import logger
from round_robin.zendesk import tickets
from round_robin.zendesk.client import ZendeskFactory

OFF, NEW, OPEN = "off", "new", "open"
# Search pages an absence reads when an event starts it (500 tickets): the events function has 30 s and a search
# page can take seconds; maintenance's `due` reads on, up to tickets.ABSENCE_PAGES a run.
EVENT_PAGES = 5
ABSENCE, REOPENED = "absence", "reopened"  # the sources of reassignment requests


def absence_key(agent: AgentRecord, policy: AccountPolicy, now: float) -> str | None:
    """Which absence the agent is in at `now` (None: not out of office): the service's own status wins over the app."""
    if policy.own_status and own_status(agent, now) == OUT_OF_OFFICE:
        return f"own:{agent.ooo_from}:{agent.ooo_until}:{agent.backup_id}"
    if policy.ooo_app and agent.ooo_app:
        return "app"
    return None


def is_out(agent: AgentRecord, policy: AccountPolicy, now: float) -> bool:
    """Whether the agent is out of office at `now`, by the sources the account follows."""
    return absence_key(agent, policy, now) is not None


def covered_statuses(policy: AccountPolicy, source: str) -> tuple[str, ...]:
    """The ticket statuses a reassignment may take from an absent agent: none when the policy is off; a reopened
    ticket is open; else new (policy "new") or new and open (policy "open")."""
    if policy.reassign not in (NEW, OPEN):
        return ()
    if source == REOPENED:
        return (OPEN,)
    return (NEW, OPEN) if policy.reassign == OPEN else (NEW,)


class Absences:
    """Queues the reassignment of an absent agent's tickets (see the module docstring)."""

    def __init__(self, *, agents: AgentStore, policies: PolicyStore, queue: AssignmentQueue, tokens: TokenManager,
                 zendesk: ZendeskFactory, event_pages: int = EVENT_PAGES) -> None:
        self._agents = agents
        self._policies = policies
        self._queue = queue
        self._tokens = tokens
        self._zendesk = zendesk
        self._event_pages = event_pages

    def started(self, subdomain: str, agent_id: int, now: float) -> int:
        """The agent's out of office started (an event said so): queue their tickets per the policy, the oldest
        `event_pages` pages of them (the rest are left to `due`); how many were queued."""
        policy, _ = self._policies.get(subdomain)
        if not covered_statuses(policy, ABSENCE):
            return 0
        agent = self._agents.agents(subdomain, {agent_id: ""})[agent_id]
        return self._start(subdomain, agent, policy, self._agents.reassigned_for(subdomain, agent_id), now,
                           self._event_pages)

    def reopened(self, subdomain: str, ticket_id: int, assignee_id: int, now: float) -> bool:
        """A ticket was reopened: if its assignee is out of office and the policy is not off, queue its
        reassignment."""
        policy, _ = self._policies.get(subdomain)
        if not covered_statuses(policy, REOPENED):
            return False
        agent = self._agents.agents(subdomain, {assignee_id: ""})[assignee_id]
        if not is_out(agent, policy, now):
            return False
        self._queue.send(AssignmentRequest(subdomain=subdomain, ticket_id=ticket_id, source=REOPENED,
                                           received_at=now, reassign_from=assignee_id))
        return True

    def due(self, subdomain: str, now: float) -> int:
        """Handle the absences that started since they were last handled (scheduled ones start by themselves), and
        forget the absence of agents who are back; how many tickets were queued."""
        policy, _ = self._policies.get(subdomain)
        queued = 0
        for agent, handled in self._agents.absent_agents(subdomain):
            key = absence_key(agent, policy, now)
            if key is None and handled is not None:
                self._agents.mark_reassigned(subdomain, agent.id, None, handled)
            elif key is not None and key != handled and covered_statuses(policy, ABSENCE):
                queued += self._start(subdomain, agent, policy, handled, now, tickets.ABSENCE_PAGES)
        return queued

    def _start(self, subdomain: str, agent: AgentRecord, policy: AccountPolicy, handled: str | None,
               now: float, max_pages: int) -> int:
        key = absence_key(agent, policy, now)
        if key is None or key == handled:
            return 0
        client = self._zendesk(subdomain, lambda: self._tokens.authorization(subdomain))
        statuses = covered_statuses(policy, ABSENCE)
        found, complete = self._search(subdomain, lambda: tickets.assigned_to(client, agent.id, statuses, max_pages))
        # Ten a call; a refusal raises before the absence is marked handled, so it is searched again.
        self._queue.send_all([AssignmentRequest(subdomain=subdomain, ticket_id=int(ticket["id"]), source=ABSENCE,
                                                received_at=now, reassign_from=agent.id) for ticket in found])
        if complete:
            self._agents.mark_reassigned(subdomain, agent.id, key, handled)
        else:  # not handled yet: the next maintenance run (`due`) searches again, the ones queued by then reassigned
            logger.warning("an agent has more tickets than one search reads: the rest wait for maintenance",
                           subdomain=subdomain, agent_id=agent.id, tickets=len(found))
        logger.info("absence started: tickets queued for reassignment", subdomain=subdomain, agent_id=agent.id,
                    tickets=len(found), complete=complete)
        return len(found)

    def _search(self, subdomain: str, search: Callable[[], Any]) -> Any:
        """Run a search; on 401 replace the refused token (TokenManager.after_unauthorized) and search again."""
        try:
            return search()
        except ZendeskUnauthorizedError as exc:
            return self._tokens.after_unauthorized(subdomain, exc.credential, search)
