"""Assigning one ticket, exactly once, whatever the deliveries do.

Per ticket, one DynamoDB item (`TICKET#<id>` under the account) is both the claim and the audit record:

1. claim it (conditional update: new, or released by a failed attempt, or its holder's lease expired);
   a duplicate delivery finds it claimed or done and stops, so it never advances the rotation;
2. re-read the ticket in Zendesk and stop if it has an assignee, is solved or closed;
3. take the next eligible agent of its group's rotation, counted, in one transaction (selection.py) - unless an
   earlier attempt already took one: that agent is reused if still eligible (so retries never skip anyone), else
   their count is given back and the ticket picked again;
4. PUT the assignee with `safe_update` and the `updated_stamp` read in 2 (409: re-read, stop if a person
   assigned it; 422: the agent left the group, refresh the roster and pick again);
5. record the outcome (agent, group, time, position, attempts) with a 90-day TTL; a ticket whose group has no
   eligible agent is recorded `waiting` with the reason and the earliest time that may change (`wake_at`), and a
   wake is asked for then (waiting.py).
   A ticket that ends skipped (a person assigned it meanwhile, it was solved) gives its count back.

A reassignment (`reassign_from`: that agent is out of office, see absence.py) claims the ticket with its own claim
path (claims.py), re-reads it, and proceeds only while it is still that agent's, in a status the policy covers,
and the agent is still out; it takes the agent's backup when they may take the ticket, else the rotation's next
eligible agent (never the absent one: they are not eligible), moving the ticket's counts from the absent agent in
the same transaction, and PUTs with `safe_update` (409: re-read; no longer theirs: skipped, never overwritten).

Pacing (pace.py): while the account is pressed (its budget ran low, or a 429, within a window), or for a ticket
postponed before (`not_before`), the ticket first takes a slot of the account's Update Ticket budget, shared by every
worker (one conditional UpdateItem), before its claim, so that a ticket without one costs no claim and no Zendesk
call. No slot, or a 429 (which pauses every worker's updates of the account until Retry-After): the ticket is
postponed (`_postpone`): queued again as a new message, delayed until its time, with the claim released and the
chosen agent kept; the outcome is POSTPONED, never an error, so it never counts toward the dead-letter limit.

Happy path on a warm worker: 4 DynamoDB calls (claim, read, transaction, finish), 1 Zendesk read, 1 Zendesk
write; the pace costs no call while the answers show plenty of the budget left. When the account's budget is spent
(no slot, or a 429), or when the ticket has waited in the queue longer than `batch_after` (single updates are not
keeping up: a burst), the ticket first goes to batch mode (`divert`, batch.py: BatchSwitch), which assigns it with a
hundred others in one Zendesk job, keeping the agent an attempt took; a ticket postponed before or given back by
batch mode waits for its slot here instead. Zendesk outages and any Zendesk answer not handled above (403, a 404 on
the PUT, 400, a 503 with Retry-After, ...) release the claim with the chosen agent kept and raise RetryLaterError for
the caller to delay the queue message; unexpected answers are logged first. A worker that dies or times out leaves
its claim `in_progress` until its lease expires: a redelivery or the sweep reclaims it.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from round_robin.accounts.tokens import TokenManager
from round_robin.assignment.absence import covered_statuses, is_out
from round_robin.assignment.claims import (
    ASSIGNED,
    DIVERTED,
    DUPLICATE,
    PARKED,
    POSTPONED,
    SKIPPED,
    WAITING,
    AssignmentStore,
    Claim,
    Outcome,
    RetryLaterError,
)
from round_robin.assignment.pace import PACED, RATE_LIMITED, Pace
from round_robin.assignment.roster_import import import_group_roster
from round_robin.assignment.rosters import RosterStore
from round_robin.assignment.rotation import Choice, roster_key
from round_robin.assignment.selection import Selector, Waiting
from round_robin.aws.queue import AssignmentRequest
from round_robin.errors import (
    ConnectionBrokenError,
    OAuthError,
    OAuthUnavailableError,
    StorageError,
    ZendeskConflictError,
    ZendeskError,
    ZendeskNotFoundError,
    ZendeskRateLimitedError,
    ZendeskUnauthorizedError,
    ZendeskUnavailableError,
    ZendeskUnprocessableError,
)
from round_robin.observability import logger
from round_robin.zendesk import tickets
from round_robin.zendesk.client import ZendeskClient, ZendeskFactory

MAX_TURNS = 4  # 409/422 round trips before giving up for this attempt
NOT_BEFORE_SLACK = 1.0  # seconds: SQS delays are whole seconds, rounded up; a chained wait goes on past this
BACKLOG = "backlog"  # a DIVERTED reason: the ticket waited in the queue longer than `batch_after`
MAX_DIVERTED_ATTEMPTS = 3  # past this many claims a rate-limited ticket waits here instead (no single<->batch loop)
CLOSED_STATUSES = {"solved", "closed"}


class Assigner:
    def __init__(
        self,
        *,
        store: AssignmentStore,
        rosters: RosterStore,
        selector: Selector,
        tokens: TokenManager,
        zendesk: ZendeskFactory,
        excluded_agents: Callable[[str], tuple[int, ...]] = lambda _subdomain: (),
        wake_at: Callable[[str, str, float, float], None] | None = None,
        pace: Pace | None = None,  # None: updates are not paced
        requeue: Callable[[AssignmentRequest, float], None] | None = None,  # queue a request, delayed (seconds)
        divert: Callable[[AssignmentRequest], bool] = lambda _request: False,
        batch_after: float | None = None,  # a ticket queued longer than this (seconds) goes to batch mode
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._pace = pace
        self._requeue = requeue
        self._store = store
        self._rosters = rosters
        self._selector = selector
        self._tokens = tokens
        self._zendesk = zendesk
        self._excluded_agents = excluded_agents
        self._wake_at = wake_at
        self._divert = divert
        self._batch_after = batch_after
        self._clock = clock

    def assign(self, request: AssignmentRequest) -> Outcome:
        """Assign the ticket of `request` to the next agent of its group, once (see the module docstring)."""
        reassignment = request.reassign_from is not None
        busy = self._busy(request, self._clock())
        if busy is not None and self._diverts(request):
            return Outcome(DIVERTED, busy)
        wait = self._wait(request)
        if wait is not None:  # the budget is spent before any call: batch mode, or wait for a slot
            return Outcome(DIVERTED, wait[1]) if self._diverts(request) else self._postpone(request, *wait)
        claim = (self._store.claim_reassignment(request, self._clock()) if reassignment
                 else self._store.claim(request, self._clock()))
        if claim is None:
            return Outcome(DUPLICATE, "already claimed or done")
        attempt = _Attempt(request, claim, self._zendesk(request.subdomain,
                                                         lambda: self._tokens.authorization(request.subdomain)))
        try:
            outcome = self._reassign(attempt) if reassignment else self._assign(attempt)
        except ConnectionBrokenError as exc:
            outcome = Outcome(PARKED, exc.reason, attempt.choice, claim.attempts)
        except ZendeskRateLimitedError as exc:
            if exc.status != 429:  # a 503 with Retry-After: an outage, retried (and dead-lettered if it lasts)
                self._release(attempt, "zendesk_unavailable")
                raise RetryLaterError("zendesk_unavailable", exc.retry_after) from exc
            self._release(attempt)  # a rate limit is no failed attempt (nor one in the console's log)
            until = self._after_rate_limit(request.subdomain, exc.retry_after)
            # The account's budget is spent: batch mode (batch.py) assigns its tickets a hundred a call, reusing
            # the agent this attempt took. Not a ticket that keeps coming back (see _diverts).
            if claim.attempts <= MAX_DIVERTED_ATTEMPTS and self._diverts(request):
                return Outcome(DIVERTED, RATE_LIMITED, attempt.choice, claim.attempts)
            return self._postpone(request, until, RATE_LIMITED, claim.attempts)
        except (ZendeskUnavailableError, RetryLaterError) as exc:
            reason = "zendesk_unavailable" if isinstance(exc, ZendeskUnavailableError) else exc.reason
            self._release(attempt, reason)
            raise RetryLaterError(reason) from exc
        except ZendeskError as exc:  # an answer none of the above expects: 403, a 404 on the PUT, 400, ...
            logger.error("unexpected Zendesk answer; the ticket is released and retried later",
                         subdomain=request.subdomain, ticket_id=request.ticket_id, status=exc.status,
                         method=exc.method, path=exc.path, error=type(exc).__name__)
            self._release(attempt, f"zendesk_{exc.status or 'error'}")
            raise RetryLaterError(f"zendesk_{exc.status or 'error'}") from exc
        except (StorageError, OAuthUnavailableError, OAuthError) as exc:
            # DynamoDB or Secrets Manager throttled, or Zendesk's token endpoint failed (invalid_grant is
            # ConnectionBrokenError above): not now. Released, so the retry is not taken for a duplicate.
            self._release_quietly(attempt, type(exc).__name__)
            raise RetryLaterError(type(exc).__name__) from exc
        finally:
            if self._pace is not None:
                self._pace.observe(request.subdomain, attempt.client.last_limits, self._clock())
        try:
            self._store.finish(request.subdomain, request.ticket_id, claim, outcome, self._clock())
        except StorageError as exc:  # the Zendesk side may be done: the retry re-reads the ticket and records it
            self._release_quietly(attempt, "storage")
            raise RetryLaterError("storage") from exc
        if outcome.status == WAITING and outcome.wake_at is not None:
            self._ask_wake(request.subdomain, outcome)
        return outcome

    def _wait(self, request: AssignmentRequest) -> tuple[float, str] | None:
        """Until when, and why, the ticket must wait for its account's Update Ticket budget; None: go on now.
        No call unless the account is pressed or the ticket was postponed before: then one slot is taken."""
        if self._pace is None:
            return None
        now = self._clock()
        if request.not_before is not None and request.not_before > now + NOT_BEFORE_SLACK:
            return request.not_before, PACED  # longer than one queue delay: chained
        blocked = self._pace.blocked_until(request.subdomain, now)
        if blocked is not None:  # a 429 this worker knows of: wait for it without a call
            return self._pace.spread(blocked, blocked - now), RATE_LIMITED
        if request.not_before is None and not self._pace.pressed(request.subdomain, now):
            return None
        try:
            until = self._pace.take(request.subdomain, now)
        except StorageError:  # a 429 would still postpone the ticket, and pause the others
            logger.warning("could not take a ticket-update slot; the ticket goes on without one",
                           subdomain=request.subdomain, ticket_id=request.ticket_id)
            return None
        if until <= now:
            return None
        return until, RATE_LIMITED if self._pace.blocked_until(request.subdomain, now) is not None else PACED

    def _after_rate_limit(self, subdomain: str, retry_after: float) -> float:
        """Zendesk said 429: every worker waits for Retry-After, not only this one; when this ticket comes back."""
        now = self._clock()
        if self._pace is None:
            return now + retry_after
        try:
            return self._pace.block(subdomain, now + retry_after, now)
        except StorageError:  # this worker still waits; the others learn of it from their own 429
            logger.warning("could not pause the account's ticket updates for the other workers", subdomain=subdomain)
            return self._pace.spread(now + retry_after, retry_after)

    def _busy(self, request: AssignmentRequest, now: float) -> str | None:
        """Why batch mode should take the ticket before any call here, if it should: BACKLOG, it was queued longer
        than `batch_after` (single updates are not keeping up: a burst); PACED, this worker saw the window's budget
        spent."""
        if self._batch_after is not None and now - request.received_at > self._batch_after:
            return BACKLOG
        if self._pace is not None and self._pace.spent(request.subdomain, now):
            return PACED
        return None

    def _diverts(self, request: AssignmentRequest) -> bool:
        """Hand the ticket to batch mode (True) rather than wait for a slot of the budget. Never a reassignment (its
        own path) nor a ticket postponed before or given back by batch mode (`not_before` set): those wait for a
        slot here, so a ticket never bounces between the two paths."""
        return request.reassign_from is None and request.not_before is None and self._divert(request)

    def _postpone(self, request: AssignmentRequest, until: float, reason: str, attempts: int = 0) -> Outcome:
        """Queue the ticket again as a NEW message delivered at `until` (a longer wait than SQS's 15 minutes is
        chained through `not_before`), so that this message is done with: SQS's receive count, which leads to the
        dead-letter queue, never grows with a rate limit. The claim, if any, is released by the caller."""
        delay = max(0.0, until - self._clock())
        if self._requeue is None:
            raise RetryLaterError(reason, delay)
        try:
            self._requeue(replace(request, not_before=until), delay)
        except StorageError as exc:  # not queued again: this message comes back instead (one receive more)
            raise RetryLaterError(reason, delay) from exc
        return Outcome(POSTPONED, reason, None, attempts, wake_at=until)

    def _ask_wake(self, subdomain: str, outcome: Outcome) -> None:
        """Ask for a wake when the waiting ticket's group may become eligible by itself (Waker.wake_at)."""
        if self._wake_at is None or outcome.wake_at is None:
            return
        try:
            self._wake_at(subdomain, outcome.group_id, outcome.wake_at, self._clock())
        except StorageError:  # the ticket is recorded waiting: the next maintenance run wakes it instead
            logger.warning("could not ask for a wake; the maintenance run wakes the ticket", subdomain=subdomain,
                           group_id=outcome.group_id)

    def _release(self, attempt: _Attempt, reason: str = "") -> None:
        """Give the claim back with the chosen agent kept; `reason` shows the attempt as failed in the log (none: a
        rate limit, no failure)."""
        request = attempt.request
        self._store.release(request.subdomain, request.ticket_id, attempt.claim, attempt.choice, self._clock(),
                            reason)

    def _release_quietly(self, attempt: _Attempt, reason: str) -> None:
        """Release after a storage failure, when storage may fail again: then the claim's lease expires and a
        redelivery or the sweep takes the ticket over."""
        try:
            self._release(attempt, reason)
        except StorageError:
            logger.warning("could not release the claim; it is taken over when its lease expires",
                           subdomain=attempt.request.subdomain, ticket_id=attempt.request.ticket_id)

    def _assign(self, attempt: _Attempt) -> Outcome:
        request = attempt.request
        try:
            ticket = self._call(attempt, lambda c: tickets.show(c, request.ticket_id))
        except ZendeskNotFoundError:
            return Outcome(SKIPPED, "ticket_not_found", None, attempt.claim.attempts)
        for _ in range(MAX_TURNS):
            if attempt.choice is not None and ticket.get("assignee_id") == attempt.choice.agent.id:
                # an earlier attempt's PUT went through before its worker stopped: done, and counted already
                return Outcome(ASSIGNED, "", attempt.choice, attempt.claim.attempts)
            reason = why_not_assign(ticket)
            if reason:
                self._give_back(attempt)
                return Outcome(SKIPPED, reason, None, attempt.claim.attempts)
            group_id = roster_key(ticket.get("group_id"))
            if attempt.choice is not None and (attempt.choice.group_id != group_id or not self._reusable(attempt)):
                self._give_back(attempt)
            if attempt.choice is None:
                selected = self._next_agent(attempt, group_id)
                if isinstance(selected, Waiting):  # nobody can take it yet: it waits (see maintenance.py)
                    return Outcome(WAITING, selected.reason, None, attempt.claim.attempts, group_id, selected.until)
                attempt.choice = selected
            agent = attempt.choice.agent
            try:
                changes = {"assignee_id": agent.id, "safe_update": True, "updated_stamp": ticket["updated_at"]}
                written = self._call(attempt, functools.partial(tickets.update, ticket_id=request.ticket_id,
                                                                changes=changes))
            except ZendeskConflictError:
                ticket = self._call(attempt, lambda c: tickets.show(c, request.ticket_id))  # changed: look again
                continue
            except ZendeskUnprocessableError:
                # The agent cannot take it (left the group, suspended...): refresh the roster, pick again.
                self._give_back(attempt)
                self._refresh_roster(attempt, group_id)
                ticket = self._call(attempt, lambda c: tickets.show(c, request.ticket_id))
                continue
            return Outcome(ASSIGNED, "", attempt.choice, attempt.claim.attempts, counted_at=tickets.updated_at(written))
        raise RetryLaterError("ticket_kept_changing")

    def _reassign(self, attempt: _Attempt) -> Outcome:
        """Take the ticket from the absent agent `reassign_from` (see the module docstring)."""
        request, attempts = attempt.request, attempt.claim.attempts
        absent_id = request.reassign_from
        assert absent_id is not None
        try:
            ticket = self._call(attempt, lambda c: tickets.show(c, request.ticket_id))
        except ZendeskNotFoundError:
            return self._skip_reassignment(attempt, None, "ticket_not_found")
        for _ in range(MAX_TURNS):
            if attempt.choice is not None and ticket.get("assignee_id") == attempt.choice.agent.id:
                return Outcome(ASSIGNED, "", attempt.choice, attempts, reassigned_from=absent_id)
            reason = self._why_not_reassign(attempt, ticket)
            if reason:
                return self._skip_reassignment(attempt, ticket, reason)
            group_id = roster_key(ticket.get("group_id"))
            if attempt.choice is not None and (attempt.choice.group_id != group_id or not self._reusable(attempt)):
                attempt.choice = None  # the next choice moves the counts on from whoever holds them now
            if attempt.choice is None:
                chosen = self._substitute(attempt, group_id, absent_id)
                if isinstance(chosen, Waiting):
                    return self._skip_reassignment(attempt, ticket, f"no_substitute_{chosen.reason}")
                attempt.choice, attempt.moved_counts = chosen, True
            try:
                changes = {"assignee_id": attempt.choice.agent.id, "safe_update": True,
                           "updated_stamp": ticket["updated_at"]}
                written = self._call(attempt, functools.partial(tickets.update, ticket_id=request.ticket_id,
                                                                changes=changes))
            except ZendeskConflictError:  # a person changed it: look again (it may no longer be theirs)
                ticket = self._call(attempt, lambda c: tickets.show(c, request.ticket_id))
                continue
            except ZendeskUnprocessableError:  # the backup or agent cannot take it (not in the group...)
                attempt.choice = None
                self._refresh_roster(attempt, group_id)
                ticket = self._call(attempt, lambda c: tickets.show(c, request.ticket_id))
                continue
            return Outcome(ASSIGNED, "", attempt.choice, attempts, reassigned_from=absent_id,
                           counted_at=tickets.updated_at(written))
        raise RetryLaterError("ticket_kept_changing")

    def _why_not_reassign(self, attempt: _Attempt, ticket: dict[str, Any]) -> str:
        request = attempt.request
        if ticket.get("assignee_id") != request.reassign_from:
            return "no_longer_theirs"
        assert request.reassign_from is not None
        agent, policy = self._selector.settings(request.subdomain, request.reassign_from)
        statuses = covered_statuses(policy, request.source)
        if not statuses:
            return "reassign_off"
        if not is_out(agent, policy, self._clock()):
            return "agent_back"
        if ticket.get("status") not in statuses:
            return f"ticket_{ticket.get('status')}"
        return ""

    def _substitute(self, attempt: _Attempt, group_id: str, absent_id: int) -> Choice | Waiting:
        """The absent agent's backup if they may take the ticket, else the rotation's next eligible agent."""
        request, now = attempt.request, self._clock()
        counted = self._selector.counted(request.subdomain, request.ticket_id)
        backup = self._selector.backup(request.subdomain, group_id, request.ticket_id, attempt.claim, absent_id,
                                       counted, now)
        if backup is not None:
            return backup
        selected = self._selector.select(request.subdomain, group_id, request.ticket_id, attempt.claim, now,
                                         counted=counted)
        return selected or Waiting("no_eligible_agent")

    def _skip_reassignment(self, attempt: _Attempt, ticket: dict[str, Any] | None, reason: str) -> Outcome:
        """Stop: the ticket stays as Zendesk has it; counts an earlier attempt moved follow Zendesk again."""
        if attempt.moved_counts:
            request = attempt.request
            assignee = ticket.get("assignee_id") if ticket else None
            _, policy = self._selector.settings(request.subdomain, request.reassign_from or 0)
            is_open = ticket is not None and ticket.get("status") in policy.counted_statuses
            self._selector.recount(request.subdomain, request.ticket_id, assignee, is_open=is_open,
                                   now=self._clock())
            attempt.choice, attempt.moved_counts = None, False
        return Outcome(SKIPPED, reason, None, attempt.claim.attempts)

    def _next_agent(self, attempt: _Attempt, group_id: str) -> Choice | Waiting:
        request = attempt.request
        selected = self._selector.select(request.subdomain, group_id, request.ticket_id, attempt.claim, self._clock())
        if selected is None:  # a group created after the last import, or an empty roster: ask Zendesk
            if self._refresh_roster(attempt, group_id):
                selected = self._selector.select(request.subdomain, group_id, request.ticket_id, attempt.claim,
                                                 self._clock())
        return selected or Waiting("no_eligible_agent")

    def _reusable(self, attempt: _Attempt) -> bool:
        """A choice from an earlier attempt is reused while its agent may still take the ticket (checked once)."""
        if attempt.checked:
            return True
        attempt.checked = True
        choice, counted = attempt.choice, attempt.claim.counted
        return choice is not None and self._selector.still_eligible(attempt.request.subdomain, choice, counted,
                                                                    self._clock())

    def _give_back(self, attempt: _Attempt) -> None:
        """Forget the choice, giving back what it counted (if anything was chosen)."""
        if attempt.choice is not None:
            self._selector.give_back(attempt.request.subdomain, attempt.request.ticket_id, attempt.claim,
                                     self._clock())
            attempt.choice = None
            attempt.checked = True

    def _refresh_roster(self, attempt: _Attempt, group_id: str) -> bool:
        subdomain = attempt.request.subdomain
        excluded = self._excluded_agents(subdomain)
        roster = self._call(attempt, lambda c: import_group_roster(c, group_id, excluded))
        if roster is None:
            return False
        self._rosters.sync(subdomain, [roster], self._clock(), prune=False)
        return bool(roster.members)

    def _call(self, attempt: _Attempt, operation: Callable[[ZendeskClient], Any]) -> Any:
        return call_zendesk(self._tokens, attempt.request.subdomain, attempt.client, operation)


def call_zendesk(tokens: TokenManager, subdomain: str, client: ZendeskClient,
                 operation: Callable[[ZendeskClient], Any]) -> Any:
    """Run a Zendesk call; on 401 replace the refused token (TokenManager.after_unauthorized) and retry."""
    try:
        return operation(client)
    except ZendeskUnauthorizedError as exc:
        try:
            return tokens.after_unauthorized(subdomain, exc.credential, lambda: operation(client))
        except ZendeskUnauthorizedError as again:  # not broken: other processes kept rotating the token
            raise RetryLaterError("unauthorized") from again


class _Attempt:
    """The state of one attempt at one ticket."""

    def __init__(self, request: AssignmentRequest, claim: Claim, client: ZendeskClient) -> None:
        self.request = request
        self.claim = claim
        self.client = client
        self.choice: Choice | None = claim.choice
        self.checked = claim.choice is None  # a choice from an earlier attempt is checked before reuse
        self.moved_counts = claim.choice is not None  # a reassignment moved the ticket's counts off its holder


def why_not_assign(ticket: dict[str, Any]) -> str:
    """Why a ticket is not ours to assign ("" if it is): it has an assignee, or it is solved or closed."""
    if ticket.get("assignee_id"):
        return "already_assigned"
    if ticket.get("status") in CLOSED_STATUSES:
        return f"ticket_{ticket['status']}"
    return ""

