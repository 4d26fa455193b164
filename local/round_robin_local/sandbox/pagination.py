"""How the sandbox pages lists: cursor pagination (`page[size]`, `page[after]`) or, without `page[...]`
parameters, offset pagination (`page`, `per_page`); at most 100 records a page."""

from __future__ import annotations

import base64
import json
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from werkzeug.wrappers import Request, Response

from round_robin_local.sandbox.answers import ApiError, json_answer, to_int

if TYPE_CHECKING:
    from round_robin_local.sandbox.model import Account

MAX_PAGE = 100


def paginate(request: Request, account: Account, key: str, records: list[dict[str, Any]]) -> Response:
    """One page of `records` under `key`, in id order, with the links to the next and previous pages."""
    records = _in_id_order(records)
    base = f"{request.host_url.rstrip('/')}/{account.subdomain}{request.path[len(account.subdomain) + 1:]}"
    if any(k.startswith("page[") for k in request.args):
        return json_answer(cursor_page(request, base, key, records))
    page = max(1, to_int(request.args.get("page")) or 1)
    per_page = min(MAX_PAGE, max(1, to_int(request.args.get("per_page")) or MAX_PAGE))
    chunk = records[(page - 1) * per_page: page * per_page]
    more = page * per_page < len(records)
    return json_answer({key: chunk, "count": len(records),
                        "next_page": f"{base}?page={page + 1}&per_page={per_page}" if more else None,
                        "previous_page": f"{base}?page={page - 1}&per_page={per_page}" if page > 1 else None})


def _in_id_order(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(records, key=lambda r: str(r["id"]) if isinstance(r["id"], str) else f"{r['id']:020d}")


def cursor_page(request: Request, base: str, key: str, records: list[dict[str, Any]]) -> dict[str, Any]:
    """One cursor page of `records` (in id order) under `key`, with `meta` and `links`, as a dict."""
    records = _in_id_order(records)
    size = min(MAX_PAGE, max(1, to_int(request.args.get("page[size]")) or MAX_PAGE))
    after = request.args.get("page[after]")
    start = 0
    if after:
        try:
            last = json.loads(base64.urlsafe_b64decode(after.encode()))["after"]
        except (ValueError, KeyError):
            raise ApiError(400, {"error": "InvalidPaginationParameter",
                                 "description": "page[after] is not a valid cursor"}) from None
        start = next((i + 1 for i, r in enumerate(records) if str(r["id"]) == str(last)), len(records))
    chunk = records[start:start + size]
    has_more = start + size < len(records)
    after_cursor = _cursor("after", chunk[-1]["id"]) if chunk else None
    before_cursor = _cursor("before", chunk[0]["id"]) if chunk else None
    keep = [(k, v) for k, v in request.args.items(multi=True) if not k.startswith("page[")]
    next_link = f"{base}?{urlencode([*keep, ('page[after]', after_cursor), ('page[size]', size)])}" \
        if has_more else None
    return {key: chunk, "meta": {"has_more": has_more, "after_cursor": after_cursor, "before_cursor": before_cursor},
            "links": {"prev": None, "next": next_link}}


def _cursor(direction: str, record_id: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps({direction: record_id}).encode()).decode()
