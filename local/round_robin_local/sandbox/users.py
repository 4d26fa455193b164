"""The Users API: the signed-in user, listing by role, show and show_many."""

from __future__ import annotations

from typing import Any

from werkzeug.wrappers import Request, Response

from round_robin_local.sandbox.answers import invalid_endpoint, json_answer, not_found, to_int, too_many_values
from round_robin_local.sandbox.model import Account
from round_robin_local.sandbox.pagination import paginate


def route(request: Request, account: Account, user: dict[str, Any], rest: list[str]) -> Response:
    """`/api/v2/users/<rest>`."""
    if request.method != "GET":
        raise invalid_endpoint()
    match rest:
        case ["me"]:
            return json_answer({"user": user})
        case []:
            roles = request.args.getlist("role[]") or request.args.getlist("role")
            users = [u for u in account.users.values() if not roles or u["role"] in roles]
            return paginate(request, account, "users", users)
        case ["show_many"]:
            ids = {i.strip() for i in (request.args.get("ids") or "").split(",") if i.strip()}
            if len(ids) > 100:
                raise too_many_values("ids")
            return json_answer({"users": [u for u in account.users.values() if str(u["id"]) in ids]})
        case [user_id]:
            found = account.users.get(to_int(user_id) or -1)
            if found is None:
                raise not_found()
            return json_answer({"user": found})
    raise invalid_endpoint()
