"""The Groups and Group Memberships APIs, among them the assignable memberships; creating and deleting a
membership (people.py) is a user.group_membership_created / _deleted event."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from werkzeug.wrappers import Request, Response

from round_robin_local.sandbox import people
from round_robin_local.sandbox.answers import body_of, invalid_endpoint, json_answer, no_access, not_found, to_int
from round_robin_local.sandbox.pagination import paginate

if TYPE_CHECKING:
    from round_robin_local.sandbox.events import Events
    from round_robin_local.sandbox.model import Account, Sandbox


def route(request: Request, sandbox: Sandbox, account: Account, user: dict[str, Any], parts: list[str],
          events: Events) -> Response:
    """`/api/v2/groups/...` and `/api/v2/group_memberships/...`."""
    if request.method in ("POST", "DELETE"):
        return _change_membership(request, sandbox, account, user, parts, events)
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


def _change_membership(request: Request, sandbox: Sandbox, account: Account, user: dict[str, Any], parts: list[str],
                       events: Events) -> Response:
    # Create Membership / Delete Membership: "Allowed For: Admins" (and agents in a custom role allowed to manage
    # memberships) (developer.zendesk.com/api-reference/ticketing/groups/group_memberships/).
    match parts:
        case ["group_memberships"] if request.method == "POST":
            if user["role"] != "admin":
                raise no_access()
            spec = body_of(request, "group_membership")
            membership = people.add_membership(account, to_int(spec.get("user_id")), to_int(spec.get("group_id")),
                                               events, sandbox.next_id(), sandbox.clock.iso())
            return json_answer({"group_membership": membership}, 201)
        case ["group_memberships", membership_id] if request.method == "DELETE":
            if user["role"] != "admin":
                raise no_access()
            found = account.memberships.get(to_int(membership_id) or -1)
            if found is None:
                raise not_found()
            people.remove_membership(account, found, events)
            return Response(status=204)
    raise invalid_endpoint()
