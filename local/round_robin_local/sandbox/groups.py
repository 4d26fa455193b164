"""The Groups and Group Memberships APIs, among them the assignable memberships."""

from __future__ import annotations

from werkzeug.wrappers import Request, Response

from round_robin_local.sandbox.answers import invalid_endpoint, json_answer, not_found, to_int
from round_robin_local.sandbox.model import Account
from round_robin_local.sandbox.pagination import paginate


def route(request: Request, account: Account, parts: list[str]) -> Response:
    """`/api/v2/groups/...` and `/api/v2/group_memberships/...`."""
    if request.method != "GET":
        raise invalid_endpoint()
    match parts:
        case ["groups", group_id]:
            group = account.groups.get(to_int(group_id) or -1)
            if group is None or group["deleted"]:
                raise not_found()
            return json_answer({"group": group})
        case ["groups"]:
            return paginate(request, account, "groups", [g for g in account.groups.values() if not g["deleted"]])
        case ["group_memberships"]:
            return paginate(request, account, "group_memberships", list(account.memberships.values()))
        case ["groups", group_id, "memberships"]:
            members = [m for m in account.memberships.values() if str(m["group_id"]) == group_id]
            return paginate(request, account, "group_memberships", members)
        # List Assignable Memberships: only memberships whose agent can take tickets, cursor or offset
        # paginated, 100 a page (developer.zendesk.com/api-reference/ticketing/groups/group_memberships/
        # #list-assignable-memberships).
        case ["group_memberships", "assignable"]:
            return paginate(request, account, "group_memberships", account.assignable_memberships())
        case ["groups", group_id, "memberships", "assignable"]:
            return paginate(request, account, "group_memberships",
                            account.assignable_memberships(to_int(group_id) or -1))
    raise invalid_endpoint()
