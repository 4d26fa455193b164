"""The sandbox's controls that change what an admin or an agent would change in Zendesk, under
`/_sandbox/accounts/<sub>/...` (tests and `make run`; the service never calls them). Each change sends the
events Zendesk would send for it (events.py).

- `POST users/<id>` `{"active", "suspended", "role", "role_type", "custom_role_id", "time_zone", "agent_ooo",
  "user_fields", "name"}` (any of them) and `DELETE users/<id>` (a soft delete)
- `POST memberships` `{"user_id", "group_id"}`, `DELETE memberships/<id>`
- `POST agents/<id>/status` `{"status": <id or name>, "reason"}`: the agent's unified status
- `POST agent-statuses` `{"name", "description", "channels": {"messaging", "support", "talk"}, "group_ids"}`
- `POST apps/out-of-office`: install the Out of Office app (its `agent_ooo` user field)
- `POST schedules` `{"name", "time_zone", "intervals"}`, `POST schedules/<id>/holidays` `{"name", "start_date",
  "end_date"}`
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from werkzeug.wrappers import Request, Response

from round_robin_local.sandbox import agent_statuses, people, schedules
from round_robin_local.sandbox.answers import ApiError, json_answer, not_found, to_int
from round_robin_local.sandbox.user_fields import OOO_FIELD, install_out_of_office_app

if TYPE_CHECKING:
    from round_robin_local.sandbox.events import Events
    from round_robin_local.sandbox.model import Account, Sandbox


def state_control(sandbox: Sandbox, events: Events, request: Request, account: Account, rest: list[str],
                  body: dict[str, Any]) -> Response | None:
    """Answer the control `rest`, or None when it is not one of these."""
    now = sandbox.clock.iso()
    match rest, request.method:
        case ["users", user_id], "POST":
            user = _user(account, user_id)
            people.update_user(account, user, _user_changes(account, body), events, now)
            return json_answer({"user": user})
        case ["users", user_id], "DELETE":
            user = _user(account, user_id)
            people.delete_user(account, user, events, now)
            return json_answer({"user": user})
        case ["memberships"], "POST":
            membership = people.add_membership(account, to_int(body.get("user_id")), to_int(body.get("group_id")),
                                               events, sandbox.next_id(), now)
            return json_answer({"group_membership": membership}, 201)
        case ["memberships", membership_id], "DELETE":
            found = account.memberships.get(to_int(membership_id) or -1)
            if found is None:
                raise not_found()
            people.remove_membership(account, found, events)
            return Response(status=204)
        case ["agents", agent_id, "status"], "POST":
            current = agent_statuses.set_status(sandbox, account, to_int(agent_id) or -1, body.get("status"), events,
                                                str(body.get("reason") or "AGENT_STATUS_SWITCHER"))
            return json_answer({"availability": current})
        case ["agent-statuses"], "POST":
            return json_answer({"agent_status": agent_statuses.create_custom_status(sandbox, account, body)}, 201)
        case ["apps", "out-of-office"], "POST":
            return json_answer({"user_field": install_out_of_office_app(sandbox, account)}, 201)
        case ["schedules"], "POST":
            return json_answer({"schedule": schedules.create_schedule(sandbox, account, body)}, 201)
        case ["schedules", schedule_id, "holidays"], "POST":
            schedule = account.schedules.get(to_int(schedule_id) or -1)
            if schedule is None:
                raise not_found()
            return json_answer({"holiday": schedules.create_holiday(sandbox, schedule, body)}, 201)
    return None


def _user(account: Account, user_id: str) -> dict[str, Any]:
    user = account.users.get(to_int(user_id) or -1)
    if user is None:
        raise not_found()
    return user


def _user_changes(account: Account, body: dict[str, Any]) -> dict[str, Any]:
    changes = {k: v for k, v in body.items() if k in people.CONTROL_FIELDS}
    if "agent_ooo" in body:
        if not any(f["key"] == OOO_FIELD["key"] for f in account.user_fields.values()):
            raise ApiError(400, {"error": "the Out of Office app is not installed (POST .../apps/out-of-office)"})
        changes["user_fields"] = {**(changes.get("user_fields") or {}), "agent_ooo": body["agent_ooo"]}
    return changes
