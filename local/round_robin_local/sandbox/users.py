"""The Users API: the signed-in user, listing by role, show and show_many, a user's group memberships, update (the
Out of Office app sets `user_fields.agent_ooo` this way) and delete. Changes and their events: people.py."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from werkzeug.wrappers import Request, Response

from round_robin_local.sandbox import people
from round_robin_local.sandbox.answers import (
    body_of,
    invalid_endpoint,
    json_answer,
    no_access,
    not_found,
    to_int,
    too_many_values,
)
from round_robin_local.sandbox.pagination import paginate

if TYPE_CHECKING:
    from round_robin_local.sandbox.events import Events
    from round_robin_local.sandbox.model import Account, Sandbox

# What only an admin may change on a user (an agent may change their own time zone and user fields).
_ADMIN_CHANGES = {"role", "custom_role_id", "suspended"}


def route(request: Request, sandbox: Sandbox, account: Account, user: dict[str, Any], rest: list[str],
          events: Events) -> Response:
    """`/api/v2/users/<rest>`."""
    if request.method in ("PUT", "DELETE") and len(rest) == 1 and rest[0] not in ("me", "show_many"):
        return _change(request, sandbox, account, user, _find(account, rest[0]), events)
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
            return json_answer({"user": _find(account, user_id)})
        # List Memberships by user: "GET /api/v2/users/{user_id}/group_memberships", cursor or offset paginated,
        # 100 a page, "Allowed For: Agents" (developer.zendesk.com/api-reference/ticketing/groups/group_memberships/).
        case [user_id, "group_memberships"]:
            found = _find(account, user_id)
            return paginate(request, account, "group_memberships",
                            [m for m in account.memberships.values() if m["user_id"] == found["id"]])
    raise invalid_endpoint()


def _find(account: Account, user_id: str) -> dict[str, Any]:
    found = account.users.get(to_int(user_id) or -1)
    if found is None:
        raise not_found()
    return found


def _change(request: Request, sandbox: Sandbox, account: Account, caller: dict[str, Any], target: dict[str, Any],
            events: Events) -> Response:
    # Update User: "Allowed for: Admins, Agents"; "Agents can only update end users" (and their own profile).
    # Delete User: "Allowed for: Admins" (developer.zendesk.com/api-reference/ticketing/users/users/).
    admin = caller["role"] == "admin"
    if request.method == "DELETE":
        if not admin:
            raise no_access()
        people.delete_user(account, target, events, sandbox.clock.iso())
        return json_answer({"user": target})
    changes = {k: v for k, v in body_of(request, "user").items() if k in people.API_FIELDS}
    if not admin and target["role"] != "end-user" and (target["id"] != caller["id"] or _ADMIN_CHANGES & set(changes)):
        raise no_access()
    people.update_user(account, target, changes, events, sandbox.clock.iso())
    return json_answer({"user": target})
