"""Batch mode: assigning up to a hundred tickets of an account with one Zendesk job, when single PUTs cannot keep up.

Zendesk allows 100 Update Ticket requests a minute per account, so one PUT per ticket bounds a burst of 1,000 at ten
minutes. When the assignment worker meets a rate limit (assigner.py), it hands the ticket to the batch queue
(`BatchSwitch`, logged "batch mode on for <sub>" and counted as `BatchModeTickets`), its claim released with the
agent it took kept. The batch worker (functions/assign_batch) reads that queue a hundred messages at a time and, per
account (`BatchAssigner.assign_all`):

1. claims each ticket as the single path does (claims.py; a duplicate stops there);
2. re-reads them all with one `GET /api/v2/tickets/show_many` and drops those assigned meanwhile, solved or closed
   (recorded skipped, counts given back, as the single path records them); a ticket whose earlier attempt's agent is
   already its assignee is recorded assigned;
3. keeps the agent an earlier attempt took while still eligible (one read for all), and takes the rotation's next
   agents for the others, per group, in one read and one transaction per hundred items (Selector.select_many);
4. queues one `PUT /api/v2/tickets/update_many` job with a per-ticket assignee, and follows its job status with
   backoff until it is done or the invocation's deadline nears;
5. re-reads the tickets (show_many again) and records each: assigned when its assignee is the agent chosen; a
   ticket whose update the job reports done but that has another assignee now was changed by a person after the
   job: it is left to them (recorded assigned, reason `changed_after_batch`; the ticket events move its counts);
   any other ticket (the job failed it, or said nothing) goes back to the assignment queue with its agent kept,
   where the single path re-reads it and PUTs with `safe_update` (a 409 or 422 is handled there).

A person's change is never overwritten knowingly. Zendesk documents `safe_update` and `updated_stamp` for the Update
Ticket endpoint ("Protecting against ticket update collisions", developer.zendesk.com/api-reference/ticketing/
tickets/tickets/#protecting-against-ticket-update-collisions); its "Update Many Tickets" section
(#update-many-tickets) says nothing of them. Each ticket of the job still carries them (the batch form takes ticket
objects, and these are ticket properties): where Zendesk applies them, a collision fails that ticket and the single
path handles it as a 409. Where it does not, the re-read of step 2 happens right before the job (only the DynamoDB
step lies between) and step 5 checks each ticket after it; what neither can see is a person assigning a ticket in
the seconds between that re-read and the job reaching it.

Calls, per batch of one account: Zendesk 2 show_many + 1 update_many + the job status reads; DynamoDB one claim and
one record per ticket, plus one BatchGet and one TransactWriteItems per hundred items of the rotation step.
"""

from __future__ import annotations

import functools
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from round_robin.accounts.tokens import TokenManager
from round_robin.assignment.assigner import call_zendesk, why_not_assign
from round_robin.assignment.claims import (
    ASSIGNED,
    CLAIM_LEASE,
    DUPLICATE,
    LEASE_MARGIN,
    PARKED,
    SKIPPED,
    TO_SINGLE,
    WAITING,
    AssignmentStore,
    Claim,
    Outcome,
    RetryLaterError,
)
from round_robin.assignment.rotation import Choice, roster_key
from round_robin.assignment.selection import Selector, Waiting
from round_robin.aws.queue import AssignmentRequest
from round_robin.errors import (
    ConnectionBrokenError,
    OAuthError,
    OAuthUnavailableError,
    StorageError,
    ZendeskError,
    ZendeskRateLimitedError,
    ZendeskUnavailableError,
)
from round_robin.observability import MetricUnit, logger, metrics
from round_robin.zendesk import tickets
from round_robin.zendesk.client import ZendeskClient, ZendeskFactory

BATCH_MODE_WINDOW = 60.0  # an account is "in batch mode" until this long after its last diverted ticket
CHANGED_AFTER = "changed_after_batch"

Result = Outcome | RetryLaterError  # what became of one request: an outcome, or try its message again later

JOB_RUNNING = "batch_job_running"  # a RetryLaterError reason: a job not done by the deadline
JOB_RETRY_MARGIN = LEASE_MARGIN  # seconds after a claim's lease: the retry takes the claim over


class BatchSwitch:
    """The assignment worker's `divert` (assigner.py): sends a rate-limited ticket to the batch queue; False when
    it could not (the caller then delays the ticket as before)."""

    def __init__(self, send: Callable[[AssignmentRequest], None], *, clock: Callable[[], float] = time.time,
                 window: float = BATCH_MODE_WINDOW) -> None:
        self._send = send
        self._clock = clock
        self._window = window
        self._last: dict[str, float] = {}

    def __call__(self, request: AssignmentRequest) -> bool:
        try:
            self._send(request)
        except StorageError:
            logger.warning("could not hand the ticket to batch mode; it is retried here", subdomain=request.subdomain,
                           ticket_id=request.ticket_id)
            return False
        now = self._clock()
        if now - self._last.get(request.subdomain, float("-inf")) > self._window:
            logger.info(f"batch mode on for {request.subdomain}", subdomain=request.subdomain)
        self._last[request.subdomain] = now
        metrics.add_metric(name="BatchModeTickets", unit=MetricUnit.Count, value=1)
        return True


@dataclass
class JobFigures:
    """What one account's batch cost and did (logged per job; the tests and the benchmark read them)."""

    subdomain: str
    tickets: int = 0
    assigned: int = 0
    show_many: int = 0
    update_many: int = 0
    job_polls: int = 0
    failed: int = 0  # tickets the job failed or said nothing about: back to the single path
    outcomes: dict[str, int] = field(default_factory=dict)


@dataclass
class _Ticket:
    index: int
    request: AssignmentRequest
    claim: Claim
    choice: Choice | None = None
    stamp: str = ""  # the ticket's updated_at as re-read before the job
    group_id: str = ""  # its roster, as re-read


class BatchAssigner:
    """Assigns a batch of queued tickets, a job per account (see the module docstring)."""

    def __init__(self, *, store: AssignmentStore, selector: Selector, tokens: TokenManager, zendesk: ZendeskFactory,
                 single: Callable[[list[AssignmentRequest]], None],
                 wake_at: Callable[[str, str, float, float], None] | None = None,
                 clock: Callable[[], float] = time.time, sleep: Callable[[float], None] = time.sleep) -> None:
        self._store = store
        self._selector = selector
        self._tokens = tokens
        self._zendesk = zendesk
        self._single = single
        self._wake_at = wake_at
        self._clock = clock
        self._sleep = sleep
        self.figures: list[JobFigures] = []  # this invocation's, one per account
        self._finishing: list[tuple[_Ticket, Outcome]] = []  # outcomes to record (_finish, then _record)

    def assign_all(self, requests: Sequence[AssignmentRequest], deadline: float) -> list[Result]:
        """Assign these tickets; what became of each, in order. `deadline` (clock time) bounds following a job."""
        results: list[Result | None] = [None] * len(requests)
        by_account: dict[str, list[tuple[int, AssignmentRequest]]] = defaultdict(list)
        for index, request in enumerate(requests):
            by_account[request.subdomain].append((index, request))
        self.figures = []
        for subdomain, entries in by_account.items():
            figures = JobFigures(subdomain, tickets=len(entries))
            for index, result in self._account(subdomain, entries, deadline, figures).items():
                results[index] = result
                status = result.status if isinstance(result, Outcome) else "retry_later"
                figures.outcomes[status] = figures.outcomes.get(status, 0) + 1
            self.figures.append(figures)
            logger.info("batch done", subdomain=subdomain, tickets=figures.tickets, assigned=figures.assigned,
                        failed=figures.failed, show_many=figures.show_many, update_many=figures.update_many,
                        job_polls=figures.job_polls, outcomes=figures.outcomes)
            for name, value in (("BatchJobs", figures.update_many), ("BatchJobPolls", figures.job_polls),
                                ("BatchJobFailedTickets", figures.failed)):
                metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)
        assert all(r is not None for r in results)
        return [r for r in results if r is not None]

    # -- one account ---------------------------------------------------------------------------------------------

    def _account(self, subdomain: str, entries: list[tuple[int, AssignmentRequest]], deadline: float,
                 figures: JobFigures) -> dict[int, Result]:
        results: dict[int, Result] = {}
        claimed: list[_Ticket] = []
        to_single: list[_Ticket] = []
        singles = []
        for index, request in entries:
            if request.reassign_from is not None:  # a reassignment has its own path (absence.py)
                results[index] = self._hand_over([request])
            else:
                singles.append((index, request))
        try:
            claims = self._store.claim_many([request for _, request in singles], self._clock()) if singles else []
        except (StorageError, RetryLaterError) as exc:  # RetryLaterError: claimed, unread; retried after the lease
            logger.warning("could not claim the tickets", subdomain=subdomain, tickets=len(singles), error=str(exc))
            retry = exc if isinstance(exc, RetryLaterError) else RetryLaterError("storage")
            results.update({index: retry for index, _ in singles})
            claims = []
        for (index, request), claim in zip(singles, claims, strict=False):
            if claim is None:
                results[index] = Outcome(DUPLICATE, "already claimed or done")
            elif claim.choice is None and claim.counted.agent_id is not None:
                to_single.append(_Ticket(index, request, claim))  # counted without a choice: the single path knows
            else:
                claimed.append(_Ticket(index, request, claim, claim.choice))
        if not claimed and not to_single:
            return results
        client = self._zendesk(subdomain, lambda: self._tokens.authorization(subdomain))
        self._finishing = []  # this account's outcomes only (the assigner lives as long as its container)
        try:
            planned = self._plan(subdomain, client, claimed, to_single, results, figures)
            # Skipped and waiting tickets are recorded now, not after the job: a waiting one must be listed for a
            # wake at once, and a late webhook must find it done
            self._record(subdomain, results)
            self._run_job(subdomain, client, planned, to_single, results, deadline, figures)
        except ConnectionBrokenError as exc:  # as the single path: parked until the account is reconnected
            handed = {t.index for t in to_single}
            for ticket in [t for t in claimed if t.index not in results and t.index not in handed]:
                results[ticket.index] = self._finish(subdomain, ticket, Outcome(PARKED, exc.reason, ticket.choice,
                                                                                ticket.claim.attempts))
        except (ZendeskError, RetryLaterError, StorageError, OAuthUnavailableError, OAuthError) as exc:
            retry = _retry_of(exc)
            if not isinstance(exc, (ZendeskRateLimitedError, ZendeskUnavailableError, RetryLaterError,
                                    StorageError)):
                logger.error("unexpected Zendesk answer in batch mode; the tickets are released and retried later",
                             subdomain=subdomain, status=getattr(exc, "status", None), error=type(exc).__name__)
            handed = {t.index for t in to_single}
            for ticket in claimed:
                if ticket.index not in results and ticket.index not in handed:
                    self._release_quietly(subdomain, ticket)
                    results[ticket.index] = retry
        self._record(subdomain, results)
        for ticket in to_single:
            self._release_quietly(subdomain, ticket)
        if to_single:
            over = self._hand_over([t.request for t in to_single])
            results.update({t.index: over for t in to_single})
        figures.assigned = sum(1 for r in results.values() if isinstance(r, Outcome) and r.status == ASSIGNED)
        return results

    def _plan(self, subdomain: str, client: ZendeskClient, claimed: list[_Ticket], to_single: list[_Ticket],
              results: dict[int, Result], figures: JobFigures) -> list[_Ticket]:
        """Steps 2 and 3: re-read the tickets, record those not to assign, choose the agents of the others."""
        now = self._clock()
        found = self._show_many(subdomain, client, [t.request.ticket_id for t in claimed], figures)
        reuse: dict[int, _Ticket] = {}
        fresh: dict[str, list[_Ticket]] = defaultdict(list)
        for ticket in claimed:
            zendesk_ticket = found.get(ticket.request.ticket_id)
            if zendesk_ticket is None:
                self._give_back(subdomain, ticket)
                results[ticket.index] = self._finish(subdomain, ticket, self._outcome(SKIPPED, ticket,
                                                                                      "ticket_not_found"))
                continue
            if ticket.choice is not None and zendesk_ticket.get("assignee_id") == ticket.choice.agent.id:
                # an earlier attempt's update went through before its worker stopped: done, and counted already
                results[ticket.index] = self._finish(subdomain, ticket, self._outcome(ASSIGNED, ticket))
                continue
            reason = why_not_assign(zendesk_ticket)
            if reason:
                self._give_back(subdomain, ticket)
                results[ticket.index] = self._finish(subdomain, ticket, self._outcome(SKIPPED, ticket, reason))
                continue
            ticket.stamp = str(zendesk_ticket.get("updated_at") or "")
            ticket.group_id = group_id = roster_key(zendesk_ticket.get("group_id"))
            if ticket.choice is not None and ticket.choice.group_id == group_id:
                reuse[ticket.request.ticket_id] = ticket
                continue
            self._give_back(subdomain, ticket)
            fresh[group_id].append(ticket)
        kept = self._selector.still_eligible_many(
            subdomain, {i: (t.choice, t.claim.counted) for i, t in reuse.items() if t.choice is not None}, now)
        planned = [t for i, t in reuse.items() if i in kept]
        for ticket_id, ticket in reuse.items():
            if ticket_id not in kept:
                self._give_back(subdomain, ticket)
                fresh[ticket.group_id].append(ticket)
        for group_id, group in fresh.items():
            chosen = self._selector.select_many(subdomain, group_id, [(t.request.ticket_id, t.claim) for t in group],
                                                now)
            if chosen is None:  # no roster for the group yet: the single path imports it from Zendesk
                to_single.extend(group)
                continue
            for ticket in group:
                selected = chosen.get(ticket.request.ticket_id)
                if selected is None:  # its claim was lost (the lease expired): another attempt has it
                    results[ticket.index] = Outcome(DUPLICATE, "claim lost")
                elif isinstance(selected, Waiting):
                    outcome = Outcome(WAITING, selected.reason, None, ticket.claim.attempts, group_id, selected.until)
                    results[ticket.index] = self._finish(subdomain, ticket, outcome)
                else:
                    ticket.choice = selected
                    planned.append(ticket)
        return planned

    def _run_job(self, subdomain: str, client: ZendeskClient, planned: list[_Ticket], to_single: list[_Ticket],
                 results: dict[int, Result], deadline: float, figures: JobFigures) -> None:
        """Steps 4 and 5: one update_many job (a hundred tickets at most each), followed, then each ticket checked."""
        for start in range(0, len(planned), tickets.UPDATE_MANY_LIMIT):
            chunk = planned[start:start + tickets.UPDATE_MANY_LIMIT]
            updates = []
            for ticket in chunk:
                assert ticket.choice is not None
                updates.append({"id": ticket.request.ticket_id, "assignee_id": ticket.choice.agent.id,
                                "safe_update": True, "updated_stamp": ticket.stamp})
            job = call_zendesk(self._tokens, subdomain, client, functools.partial(tickets.update_many,
                                                                                 updates=updates))
            figures.update_many += 1
            job, polls = call_zendesk(self._tokens, subdomain, client, functools.partial(
                tickets.follow_job, job=job, deadline=deadline, clock=self._clock, sleep=self._sleep))
            figures.job_polls += polls
            sent = [t.request.ticket_id for t in chunk]
            if job.get("status") not in tickets.JOB_DONE:
                # Not done in time. The claims are kept (not released), so that no other attempt chooses again
                # while the job may still assign its agents; the retry comes after their lease, takes them over and
                # finds the job's assignments done (an earlier attempt's update: recorded assigned, see _plan).
                logger.warning("update_many job not done before the deadline; its tickets are retried after their "
                               "claims' lease", subdomain=subdomain, job_id=job.get("id"), tickets=len(chunk))
                for ticket in chunk:
                    results[ticket.index] = RetryLaterError(JOB_RUNNING, CLAIM_LEASE + JOB_RETRY_MARGIN)
                continue
            done = tickets.job_results(job, sent)
            try:
                after = self._show_many(subdomain, client, sent, figures)
            except (ZendeskRateLimitedError, ZendeskUnavailableError):  # unverified: the job's word stands
                after = {}
            for ticket in chunk:
                assert ticket.choice is not None
                now_ticket = after.get(ticket.request.ticket_id)
                result = done.get(ticket.request.ticket_id)
                if now_ticket is not None and now_ticket.get("assignee_id") == ticket.choice.agent.id:
                    outcome = self._outcome(ASSIGNED, ticket, counted_at=tickets.updated_at(now_ticket))
                elif result is not None and result.success:
                    # Updated by the job, and someone changed it since (or it could not be re-read): theirs now
                    outcome = self._outcome(ASSIGNED, ticket, CHANGED_AFTER if now_ticket is not None else "")
                else:
                    figures.failed += 1
                    logger.info("ticket not updated by the batch job; the single path takes it over",
                                subdomain=subdomain, ticket_id=ticket.request.ticket_id,
                                error=result.error if result else "no result")
                    to_single.append(ticket)
                    continue
                results[ticket.index] = self._finish(subdomain, ticket, outcome)

    # -- helpers -------------------------------------------------------------------------------------------------

    def _show_many(self, subdomain: str, client: ZendeskClient, ticket_ids: list[int],
                   figures: JobFigures) -> dict[int, dict[str, Any]]:
        if not ticket_ids:
            return {}
        figures.show_many += (len(ticket_ids) + tickets.SHOW_MANY_LIMIT - 1) // tickets.SHOW_MANY_LIMIT
        found: dict[int, dict[str, Any]] = call_zendesk(self._tokens, subdomain, client,
                                                        lambda c: tickets.show_many(c, ticket_ids))
        return found

    @staticmethod
    def _outcome(status: str, ticket: _Ticket, reason: str = "", counted_at: float | None = None) -> Outcome:
        choice = ticket.choice if status == ASSIGNED else None
        return Outcome(status, reason, choice, ticket.claim.attempts, counted_at=counted_at)

    def _finish(self, subdomain: str, ticket: _Ticket, outcome: Outcome) -> Result:
        """The ticket's outcome, to be recorded with the account's others (`_record`) as the single path records it."""
        self._finishing.append((ticket, outcome))
        return outcome

    def _record(self, subdomain: str, results: dict[int, Result]) -> None:
        """Record the outcomes `_finish` kept, a transaction a hundred; a ticket whose record could not be written
        is released and its result becomes RetryLaterError (the retry re-reads the ticket and records it)."""
        finishing, self._finishing = self._finishing, []
        if not finishing:
            return
        now = self._clock()
        retry = RetryLaterError("the claim was lost (lease expired)")
        try:
            held = self._store.finish_many(subdomain, [(t.request.ticket_id, t.claim, outcome)
                                                       for t, outcome in finishing], now)
        except StorageError as exc:
            logger.warning("could not record the outcomes", subdomain=subdomain, tickets=len(finishing),
                           error=str(exc))
            held, retry = [False] * len(finishing), RetryLaterError("storage")
        for (ticket, outcome), recorded in zip(finishing, held, strict=True):
            if not recorded:
                self._release_quietly(subdomain, ticket)
                results[ticket.index] = retry
                continue
            if outcome.status == WAITING and outcome.wake_at is not None and self._wake_at is not None:
                try:
                    self._wake_at(subdomain, outcome.group_id, outcome.wake_at, now)
                except StorageError:
                    logger.warning("could not ask for a wake; the maintenance run wakes the ticket",
                                   subdomain=subdomain, group_id=outcome.group_id)

    def _give_back(self, subdomain: str, ticket: _Ticket) -> None:
        """Forget an earlier attempt's agent, giving back what it counted (Selector.give_back)."""
        if ticket.choice is not None:
            self._selector.give_back(subdomain, ticket.request.ticket_id, ticket.claim, self._clock())
            ticket.choice = None

    def _release_quietly(self, subdomain: str, ticket: _Ticket) -> None:
        """Give the claim back (the agent chosen kept), or leave it to expire if storage refuses."""
        try:
            self._store.release(subdomain, ticket.request.ticket_id, ticket.claim, ticket.choice, self._clock())
        except (StorageError, RetryLaterError):
            logger.warning("could not release the claim; it is taken over when its lease expires",
                           subdomain=subdomain, ticket_id=ticket.request.ticket_id)

    def _hand_over(self, requests: list[AssignmentRequest]) -> Result:
        """Queue tickets for the single path (their claims released first); RetryLaterError if SQS refused. They go
        with `not_before` set, so the single path waits for a slot of the budget rather than hand them back here
        (Assigner._diverts): a ticket never bounces between the two paths."""
        now = self._clock()
        try:
            self._single([replace(r, not_before=r.not_before or now) for r in requests])
        except StorageError:
            return RetryLaterError("queueing")
        return Outcome(TO_SINGLE, "single_path")


def _retry_of(exc: Exception) -> RetryLaterError:
    if isinstance(exc, RetryLaterError):
        return exc
    if isinstance(exc, ZendeskRateLimitedError):  # a 503 with Retry-After is an outage, not a rate limit
        return RetryLaterError("rate_limited" if exc.status == 429 else "zendesk_unavailable", exc.retry_after)
    if isinstance(exc, ZendeskUnavailableError):
        return RetryLaterError("zendesk_unavailable")
    if isinstance(exc, ZendeskError):
        return RetryLaterError(f"zendesk_{exc.status or 'error'}")
    return RetryLaterError(type(exc).__name__)
