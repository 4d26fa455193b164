"""Tickets: read one, update one (with `safe_update`), and search for the unassigned ones (the sweep's query) and
for one agent's (an absence's query)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from round_robin.errors import ZendeskError
from round_robin.observability import logger
from round_robin.zendesk.client import ZendeskClient

SEARCH = "/api/v2/search.json"
SEARCH_PAGE = 100  # Zendesk's largest search page
SEARCH_LIMIT = 1000  # results one search query can return; a page past them is a 422
SWEEP_PAGES = 30  # search pages per account per run (three narrowed queries of 1,000)


def show(client: ZendeskClient, ticket_id: int) -> dict[str, Any]:
    """The ticket as Zendesk has it now (ZendeskNotFoundError once deleted)."""
    return client.get(f"/api/v2/tickets/{ticket_id}.json")["ticket"]


def update(client: ZendeskClient, ticket_id: int, changes: dict[str, Any]) -> dict[str, Any]:
    """PUT the changes; with `safe_update` and `updated_stamp` Zendesk answers 409 if the ticket moved on."""
    return client.put(f"/api/v2/tickets/{ticket_id}.json", {"ticket": changes}).get("ticket", {})


def unassigned(client: ZendeskClient, before: float, subdomain: str, *,
               after: float | None = None) -> list[dict[str, Any]]:
    """Unassigned new/open/pending/on-hold tickets created before `before` (and after `after`), oldest first, up to
    SWEEP_PAGES.

    Search is offset-paginated (follow `next_page`, 100 a page) and returns at most 1,000 results a query
    (page 11 is a 422); past them the query is narrowed to tickets created from the last one seen on (one
    second earlier: `created>` is strict and times have whole seconds; duplicates are dropped). Sources:
    developer.zendesk.com/api-reference/ticketing/ticket-management/search/ (#results-limit, sort_by); a range
    as two terms, `created>A created<B`: support.zendesk.com community post 5436173658906.
    """
    base = f"type:ticket status<solved assignee:none created<{_search_time(before)}"
    found: dict[int, dict[str, Any]] = {}
    since: str | None = _search_time(after) if after else None
    pages = 0
    while pages < SWEEP_PAGES:
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
                return list(found.values())
            if number == SEARCH_LIMIT // SEARCH_PAGE or pages >= SWEEP_PAGES:
                break
            if not next_page.startswith(client.base_url + "/"):
                raise ZendeskError("search pagination left the account's base URL", method="GET", path=SEARCH)
            page = client.get(next_page)
        last = max((t.get("created_at") or "" for t in found.values()), default="")
        narrower = _one_second_before(last) if last else None
        if narrower is None or narrower == since:  # over 1,000 tickets in one second: no way to narrow
            break
        since = narrower
    # The next run reads again from the oldest: tickets it queued are claimed or done by then.
    logger.warning("sweep stopped before the end of the search results", subdomain=subdomain, tickets=len(found))
    return list(found.values())


# Zendesk orders ticket statuses new < open < pending < hold < solved < closed and its search takes `<` on them, so
# "new or open" is one term, `status<pending`. Source: support.zendesk.com/hc/en-us/articles/4408886879258
# (Zendesk Support search reference: search operators; ticket property keywords `status` and `assignee`, which
# takes a user's name, email or id).
_STATUS_TERMS = {("new",): "status:new", ("open",): "status:open", ("new", "open"): "status<pending"}


def assigned_to(client: ZendeskClient, agent_id: int, statuses: tuple[str, ...]) -> list[dict[str, Any]]:
    """The agent's tickets in `statuses` (new; open; new and open), oldest first: at most 1,000 (one query).

    Offset-paginated, 100 a page, following `next_page` (see `unassigned`); past 1,000 results Zendesk answers 422,
    so the rest are left (logged), for a later search once these are reassigned.
    """
    term = _STATUS_TERMS.get(tuple(sorted(set(statuses), key=lambda s: (s != "new", s))))
    if term is None:
        raise ValueError(f"no search term for the statuses {statuses!r}")
    query = f"type:ticket assignee:{int(agent_id)} {term}"
    page = client.get(SEARCH, {"query": query, "sort_by": "created_at", "sort_order": "asc", "per_page": SEARCH_PAGE})
    found: dict[int, dict[str, Any]] = {}
    for number in range(1, SEARCH_LIMIT // SEARCH_PAGE + 1):
        for hit in page.get("results", []):
            if hit.get("result_type", "ticket") == "ticket":
                found.setdefault(hit["id"], hit)
        next_page = page.get("next_page")
        if not next_page:
            return list(found.values())
        if number == SEARCH_LIMIT // SEARCH_PAGE:
            break
        if not next_page.startswith(client.base_url + "/"):
            raise ZendeskError("search pagination left the account's base URL", method="GET", path=SEARCH)
        page = client.get(next_page)
    logger.warning("an agent has more tickets than one search returns", agent_id=agent_id, tickets=len(found))
    return list(found.values())


def _search_time(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _one_second_before(created_at: str) -> str | None:
    try:
        moment = datetime.strptime(created_at, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    except ValueError:
        return None
    return _search_time(moment.timestamp() - 1)
