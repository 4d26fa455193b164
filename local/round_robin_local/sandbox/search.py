"""The Search API, for tickets: the query terms the service uses, offset pagination, the 1,000-result limit
and the indexing lag of new tickets."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from werkzeug.wrappers import Request, Response

from round_robin_local.sandbox.answers import ApiError, json_answer, to_int
from round_robin_local.sandbox.model import TICKET_STATUSES, Account, Sandbox
from round_robin_local.sandbox.pagination import MAX_PAGE
from round_robin_local.sandbox.tickets import public

SEARCH_LIMIT = 1000  # results one search query can return (see search)


def search(sandbox: Sandbox, request: Request, account: Account) -> Response:
    """GET /api/v2/search: offset pagination only, at most 100 results a page and 1,000 a query.

    Zendesk: "The Search API returns up to 1,000 results per query, with a maximum of 100 results per page.
    [...] If you request a page past the limit (page=11 at 100 results per page), a 422 Insufficient Resource
    Error is returned." `count` is the real number of matches. `sort_by` (created_at, updated_at) with
    `sort_order` (default desc); without it the order is relevance (here: by id). New tickets take a while to
    be indexed (`search_lag`). Source: developer.zendesk.com/api-reference/ticketing/ticket-management/search/
    (#results-limit, "List Search Results" parameters).
    """
    query = request.args.get("query", "")
    page, per_page = (to_int(request.args.get(name)) for name in ("page", "per_page"))
    for name, value in (("page", page), ("per_page", per_page)):
        if request.args.get(name) is not None and value is None:
            # The answer Zendesk gives a non-integer page (community post 5981990015514).
            raise ApiError(400, {"error": {"title": "Invalid attribute", "message": (
                f"You passed an invalid value for the {name} attribute. Invalid parameter: {name} must be an "
                "integer from api/v2/search/index")}})
    page, per_page = max(1, page or 1), min(MAX_PAGE, max(1, per_page or MAX_PAGE))
    if page * per_page > SEARCH_LIMIT:
        # The body Zendesk answers past the limit (captured in several clients' issue threads).
        raise ApiError(422, {"error": "invalid", "description": "Invalid search: Requested response size was "
                                                                "greater than Search Response Limits"})
    now = sandbox.clock.now()
    tickets = [t for t in account.tickets.values() if t["_created_epoch"] <= now - account.search_lag]
    for term in query.split():
        tickets = _search_filter(term, tickets)
        if tickets is None:
            raise ApiError(400, {"error": "InvalidSearch", "description": f"Unsupported search term {term!r}"})
    tickets.sort(key=lambda t: t["id"])
    sort_by = request.args.get("sort_by")
    if sort_by in ("created_at", "updated_at"):
        tickets.sort(key=lambda t: t[sort_by], reverse=request.args.get("sort_order", "desc") != "asc")
    chunk = tickets[(page - 1) * per_page: page * per_page]
    base = f"{request.host_url.rstrip('/')}/{account.subdomain}/api/v2/search.json"
    keep = [(k, v) for k, v in request.args.items(multi=True) if k not in ("page", "per_page")]

    def link(number: int) -> str:
        return f"{base}?{urlencode([*keep, ('page', number), ('per_page', per_page)])}"

    # next_page whenever more results match, even past the 1,000 that can be read: Zendesk's docs do not say
    # it stops there, so a client must stop by itself (the strict reading).
    return json_answer({"results": [{**public(t), "result_type": "ticket"} for t in chunk],
                        "count": len(tickets), "next_page": link(page + 1) if page * per_page < len(tickets) else None,
                        "previous_page": link(page - 1) if page > 1 else None, "facets": None})


def _search_filter(term: str, tickets: list[dict[str, Any]]) -> list[dict[str, Any]] | None:
    """One term of the ticket search syntax the service uses (type, status, assignee, group, created)."""
    for op in ("<=", ">=", "<", ">", ":"):
        key, sep, value = term.partition(op)
        if sep:
            break
    else:
        return None
    if key == "type":
        return tickets if value == "ticket" else []
    if key == "status" and value in TICKET_STATUSES:
        rank = TICKET_STATUSES.index(value)
        compare = {"<": lambda r: r < rank, ">": lambda r: r > rank, "<=": lambda r: r <= rank,
                   ">=": lambda r: r >= rank, ":": lambda r: r == rank}[op]
        return [t for t in tickets if compare(TICKET_STATUSES.index(t["status"]))]
    if key == "assignee" and op == ":":
        return [t for t in tickets if (t["assignee_id"] is None if value == "none" else str(t["assignee_id"]) == value)]
    if key == "group" and op == ":":
        return [t for t in tickets if (t["group_id"] is None if value == "none" else str(t["group_id"]) == value)]
    if key == "created" and op in ("<", ">"):
        return [t for t in tickets if (t["created_at"] < value if op == "<" else t["created_at"] > value)]
    return None
