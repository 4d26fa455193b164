"""User fields, and the one the Out of Office app creates.

Zendesk's Out of Office app, when installed, creates a checkbox user field "Agent Out?" with key `agent_ooo` (the
app's source, github.com/zendesk/out_of_office_app lib/requests.js createUserField; "When the app is installed a
user field "Agent Out?" is created": www.zendesk.com/apps/support/out-of-office/) and toggles an agent's status with
`PUT /api/v2/users/{id}` `{"user": {"user_fields": {"agent_ooo": <bool>}}}`, which is a user.custom_field_changed
event. List User Fields: `GET /api/v2/user_fields`, "Allowed for: Agents".
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from werkzeug.wrappers import Request, Response

from round_robin_local.sandbox.answers import invalid_endpoint, json_answer, not_found, to_int
from round_robin_local.sandbox.model import unset_value
from round_robin_local.sandbox.pagination import paginate

if TYPE_CHECKING:
    from round_robin_local.sandbox.model import Account, Sandbox

OOO_FIELD = {"key": "agent_ooo", "title": "Agent Out?", "type": "checkbox", "tag": "agent_ooo", "active": True,
             "description": "This field was created by the out-of-office app. Don't delete it, unless you want "
                            "everything to break", "position": 0}


def route(request: Request, account: Account, rest: list[str]) -> Response:
    """`/api/v2/user_fields/<rest>`."""
    if request.method != "GET":
        raise invalid_endpoint()
    match rest:
        case []:
            return paginate(request, account, "user_fields", list(account.user_fields.values()))
        case [field_id]:
            found = account.user_fields.get(to_int(field_id) or -1)
            if found is None:
                raise not_found()
            return json_answer({"user_field": found})
    raise invalid_endpoint()


def install_out_of_office_app(sandbox: Sandbox, account: Account) -> dict[str, Any]:
    """Install the Out of Office app: its user field, unchecked for every user. Installing twice changes nothing."""
    existing = next((f for f in account.user_fields.values() if f["key"] == OOO_FIELD["key"]), None)
    if existing is not None:
        return existing
    now = sandbox.clock.iso()
    field_id = sandbox.next_id()
    field = {"id": field_id, "url": "", **OOO_FIELD, "system": False, "created_at": now, "updated_at": now}
    account.user_fields[field_id] = field
    for user in account.users.values():
        user.setdefault("user_fields", {})[field["key"]] = unset_value(field)
    return field
