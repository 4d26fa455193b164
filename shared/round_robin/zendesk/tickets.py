"""Tickets: read one or many, update one (with `safe_update`) or many (an update_many job, followed to its
per-ticket results), and search: the unassigned ones (the sweep's query),
the ones in given statuses (the count reconciliation's) and one agent's (an absence's query)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from round_robin.errors import ZendeskError
from round_robin.observability import logger
from round_robin.zendesk.client import ZendeskClient

SEARCH = "/api/v2/search.json"
SEARCH_PAGE = 100  # Zendesk's largest search page
SEARCH_LIMIT = 1000  # results one search query can return; a page past them is a 422
SWEEP_PAGES = 30  # search pages per account per run (three narrowed queries of 1,000)
ABSENCE_PAGES = 30  # search pages for one absent agent's tickets (3,000 tickets)
SHOW_MANY_LIMIT = 100  # ids per show_many call
STATUS_ORDER = ("new", "open", "pending", "hold", "solved", "closed")  # search's order of statuses
UPDATE_MANY_LIMIT = 100  # tickets per update_many job
JOB_DONE = frozenset({"completed", "failed", "killed"})  # a job status that no longer changes
FIRST_POLL = 0.5  # seconds before the first job status read; then doubled up to LAST_POLL
LAST_POLL = 4.0


def show(client: ZendeskClient, ticket_id: int) -> dict[str, Any]:
    """The ticket as Zendesk has it now (ZendeskNotFoundError once deleted)."""
    return client.get(f"/api/v2/tickets/{ticket_id}.json")["ticket"]


def updated_at(ticket: dict[str, Any]) -> float | None:
    """The ticket's `updated_at` (ISO 8601, UTC: `2026-12-06T23:19:13Z`) as epoch seconds; None if absent or not
    a time."""
    value = ticket.get("updated_at")
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment.timestamp() if moment.tzinfo is not None else None


def update(client: ZendeskClient, ticket_id: int, changes: dict[str, Any]) -> dict[str, Any]:
    """PUT the changes; with `safe_update` and `updated_stamp` Zendesk answers 409 if the ticket moved on."""
    return client.put(f"/api/v2/tickets/{ticket_id}.json", {"ticket": changes}).get("ticket", {})


def unassigned(client: ZendeskClient, before: float, subdomain: str, *,
               after: float | None = None) -> list[dict[str, Any]]:
    """Unassigned new/open/pending/on-hold tickets created before `before` (and after `after`), oldest first, up to
    SWEEP_PAGES (see `search_all` for the paging)."""
    base = f"type:ticket status<solved assignee:none created<{_search_time(before)}"
    found, complete = search_all(client, base, SWEEP_PAGES, after=after)
    if not complete:
        # The next run reads again from the oldest: tickets it queued are claimed or done by then.
        logger.warning("sweep stopped before the end of the search results", subdomain=subdomain, tickets=len(found))
    return found


def in_statuses(client: ZendeskClient, statuses: Iterable[str], max_pages: int) -> tuple[list[dict[str, Any]], bool]:
    """The tickets whose status is one of `statuses` (of new, open, pending, hold), oldest first, up to `max_pages`
    pages; and whether that was all of them.

    One query: the search's terms are ANDed, so the statuses are asked as the range that spans them, with the
    documented `<` and `>` operators (statuses are ordered new < open < pending < hold < solved < closed, the
    order the documented example `status<solved` relies on; new and open: `status<pending`), and the ones in
    between that are not wanted are dropped here. developer.zendesk.com/api-reference/ticketing/ticket-management/
    search/ ("Other operators include < and >").
    """
    wanted = [s for s in STATUS_ORDER[:4] if s in set(statuses)]  # never solved or closed
    if not wanted:
        return [], True
    first, last = STATUS_ORDER.index(wanted[0]), STATUS_ORDER.index(wanted[-1])
    terms = ["type:ticket"]
    if first > 0:
        terms.append(f"status>{STATUS_ORDER[first - 1]}")
    terms.append(f"status<{STATUS_ORDER[last + 1]}")
    found, complete = search_all(client, " ".join(terms), max_pages)
    return [t for t in found if t.get("status") in wanted], complete


def search_all(client: ZendeskClient, base: str, max_pages: int, *,
               after: float | None = None) -> tuple[list[dict[str, Any]], bool]:
    """The tickets a search query finds (created after `after`, if given), oldest first, reading at most
    `max_pages` pages; and whether that was all of them.

    Search is offset-paginated (follow `next_page`, 100 a page) and returns at most 1,000 results a query
    (page 11 is a 422); past them the query is narrowed to tickets created from the last one seen on (one
    second earlier: `created>` is strict and times have whole seconds; duplicates are dropped). Sources:
    developer.zendesk.com/api-reference/ticketing/ticket-management/search/ (#results-limit, sort_by); a range
    as two terms, `created>A created<B`: support.zendesk.com community post 5436173658906.
    """
    found: dict[int, dict[str, Any]] = {}
    since: str | None = _search_time(after) if after else None
    pages = 0
    while pages < max_pages:
        query = f"{base} created>{since}" if since else base
        page = client.get(SEARCH, {"query": query, "sort_by": "created_at", "sort_order": "asc",
                                   "per_page": SEARCH_PAGE})
        for number in range(1, SEARCH_LIMIT // SEARCH_PAGE + 1):
            pages += 1
            for hit in page.get("results", []):
                if hit.get("result_type", "ticket") == "ticket":
                    found.setdefault(hit["id"], hit)
            next_page = page.get("next_page")
            if not next_page:
                return list(found.values()), True
            if number == SEARCH_LIMIT // SEARCH_PAGE or pages >= max_pages:
                break
            if not next_page.startswith(client.base_url + "/"):
                raise ZendeskError("search pagination left the account's base URL", method="GET", path=SEARCH)
            page = client.get(next_page)
        last = max((t.get("created_at") or "" for t in found.values()), default="")
        narrower = _one_second_before(last) if last else None
        if narrower is None or narrower == since:  # over 1,000 tickets in one second: no way to narrow
            break
        since = narrower
    return list(found.values()), False


def show_many(client: ZendeskClient, ticket_ids: list[int]) -> dict[int, dict[str, Any]]:
    """The tickets with these ids as Zendesk has them now, SHOW_MANY_LIMIT a call; a deleted one is absent.
    (GET /api/v2/tickets/show_many?ids=, at most 100 ids: developer.zendesk.com/api-reference/ticketing/tickets/
    tickets/#show-multiple-tickets)"""
    found: dict[int, dict[str, Any]] = {}
    for start in range(0, len(ticket_ids), SHOW_MANY_LIMIT):
        chunk = ",".join(str(i) for i in ticket_ids[start:start + SHOW_MANY_LIMIT])
        for ticket in client.get("/api/v2/tickets/show_many.json", {"ids": chunk}).get("tickets", []):
            found[int(ticket["id"])] = ticket
    return found


# Zendesk orders ticket statuses new < open < pending < hold < solved < closed and its search takes `<` on them, so
# "new or open" is one term, `status<pending`. Source: support.zendesk.com/hc/en-us/articles/4408886879258
# (Zendesk Support search reference: search operators; ticket property keywords `status` and `assignee`, which
# takes a user's name, email or id).
_STATUS_TERMS = {("new",): "status:new", ("open",): "status:open", ("new", "open"): "status<pending"}


def assigned_to(client: ZendeskClient, agent_id: int, statuses: tuple[str, ...],
                max_pages: int = ABSENCE_PAGES) -> tuple[list[dict[str, Any]], bool]:
    """The agent's tickets in `statuses` (new; open; new and open), oldest first, up to `max_pages` pages (see
    `search_all`: past 1,000 results the query is narrowed by creation time); and whether that was all of them."""
    term = _STATUS_TERMS.get(tuple(sorted(set(statuses), key=lambda s: (s != "new", s))))
    if term is None:
        raise ValueError(f"no search term for the statuses {statuses!r}")
    return search_all(client, f"type:ticket assignee:{int(agent_id)} {term}", max_pages)


def _search_time(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _one_second_before(created_at: str) -> str | None:
    try:
        moment = datetime.strptime(created_at, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    except ValueError:
        return None
    return _search_time(moment.timestamp() - 1)


@dataclass(frozen=True)
class JobResult:
    """What an update_many job did to one ticket: `success`, else Zendesk's error name and details."""

    ticket_id: int
    success: bool
    error: str = ""
    details: str = ""


def update_many(client: ZendeskClient, updates: list[dict[str, Any]]) -> dict[str, Any]:
    """Queue one job updating each ticket as given (`{"id": ..., "assignee_id": ...}`, at most UPDATE_MANY_LIMIT);
    its job status. PUT /api/v2/tickets/update_many with a `tickets` array (the batch form: a change per ticket):
    developer.zendesk.com/api-reference/ticketing/tickets/tickets/#update-many-tickets"""
    if not 0 < len(updates) <= UPDATE_MANY_LIMIT:
        raise ValueError(f"an update_many job takes 1 to {UPDATE_MANY_LIMIT} tickets, not {len(updates)}")
    return dict(client.put("/api/v2/tickets/update_many.json", {"tickets": updates}).get("job_status") or {})


def follow_job(client: ZendeskClient, job: dict[str, Any], deadline: float, *,
               clock: Callable[[], float] = time.time,
               sleep: Callable[[float], None] = time.sleep) -> tuple[dict[str, Any], int]:
    """Read the job's status (GET /api/v2/job_statuses/{id}) until it is done or `deadline` (clock time) would pass
    before the next read, waiting FIRST_POLL seconds, then twice as long each time up to LAST_POLL; the last status
    read and how many reads it took. developer.zendesk.com/api-reference/ticketing/ticket-management/job_statuses/
    (status: queued, working, failed, completed, killed)."""
    wait, reads = FIRST_POLL, 0
    while job.get("status") not in JOB_DONE and clock() + wait <= deadline:
        sleep(wait)
        wait = min(LAST_POLL, wait * 2)
        job = dict(client.get(f"/api/v2/job_statuses/{job['id']}.json").get("job_status") or {})
        reads += 1
    return job, reads


def job_results(job: dict[str, Any], sent: list[int]) -> dict[int, JobResult]:
    """The per-ticket results of a finished update_many job, by ticket id; a ticket the job reports nothing about
    (a failed or killed job, a result without an id) is absent. A bulk-update result names the ticket (`id`), the
    `action`, `success` and a `status` ("Updated" or "Failed", with `error` and `details`): job statuses'
    "Results" section (developer.zendesk.com/api-reference/ticketing/ticket-management/job_statuses/#results);
    a result with only an `index` names the ticket sent at that place."""
    found: dict[int, JobResult] = {}
    results = job.get("results")
    if not isinstance(results, list):
        return found
    for result in results:
        if not isinstance(result, dict):
            continue
        ticket_id = _result_ticket(result, sent)
        if ticket_id is None or ticket_id not in sent:
            continue
        success = result.get("success") is True or (result.get("status") == "Updated" and not result.get("error"))
        found[ticket_id] = JobResult(ticket_id, success, "" if success else str(result.get("error") or "Failed"),
                                     "" if success else str(result.get("details") or "")[:200])
    return found


def _result_ticket(result: dict[str, Any], sent: list[int]) -> int | None:
    raw = result.get("id")
    if isinstance(raw, int) or (isinstance(raw, str) and raw.isdigit()):
        return int(raw)
    index = result.get("index")
    if isinstance(index, int) and 0 <= index < len(sent):
        return sent[index]
    return None
