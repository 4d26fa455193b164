"""Changing people, with the events each change is: users (role, custom role, suspension, time zone, user fields,
deletion) and group memberships. The Users and Group Memberships APIs and the sandbox's controls call these."""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

from round_robin_local.sandbox.answers import record_invalid, to_int
from round_robin_local.sandbox.model import ADMIN_ROLE_TYPE, Account, unset_value
from round_robin_local.sandbox.time_zones import RAILS_TIME_ZONES

if TYPE_CHECKING:
    from round_robin_local.sandbox.events import Events

ROLES = ("end-user", "agent", "admin")
API_FIELDS = {"name", "suspended", "role", "custom_role_id", "time_zone", "user_fields"}  # writable by the API
CONTROL_FIELDS = API_FIELDS | {"active", "role_type"}  # the sandbox's controls may also set these


def update_user(account: Account, user: dict[str, Any], changes: dict[str, Any], events: Events, now: str) -> None:
    """Apply `changes` (all checked first: a 422 leaves the user as it was) and send their events."""
    before = copy.deepcopy(user)
    after = copy.deepcopy(user)
    if "name" in changes:
        after["name"] = str(changes["name"])
    for flag in ("active", "suspended"):
        if flag in changes:
            after[flag] = bool(changes[flag])
    if "role" in changes:
        _set_role(account, after, changes["role"])
    if "custom_role_id" in changes:
        _set_custom_role(account, after, changes["custom_role_id"])
    if "role_type" in changes:
        _set_role_type(account, after, changes["role_type"])
    if "time_zone" in changes:
        zone = changes["time_zone"]
        if zone not in RAILS_TIME_ZONES:
            raise record_invalid("Time zone: is not included in the list", "time_zone")
        after["time_zone"], after["iana_time_zone"] = zone, RAILS_TIME_ZONES[zone]
    if "user_fields" in changes:
        after["user_fields"] = _user_fields(account, after, changes["user_fields"])
    after["updated_at"] = now
    user.clear()
    user.update(after)
    events.user_changed(account, before, user)


def delete_user(account: Account, user: dict[str, Any], events: Events, now: str) -> None:
    """Delete User: a soft delete, after which the user is inactive ("Current is "false" if the user has been soft
    deleted": the Events Connector's Active Status Changed, developer.zendesk.com/api-reference/amazon-eventbridge/
    users)."""
    update_user(account, user, {"active": False}, events, now)
    events.user_deleted(account, user)


def add_membership(account: Account, user_id: int | None, group_id: int | None, events: Events,
                   membership_id: int, now: str) -> dict[str, Any]:
    """Create Membership: the user must be an agent or admin, the group must exist, and the pair be new."""
    user = account.users.get(user_id or -1)
    group = account.groups.get(group_id or -1)
    if user is None or user["role"] not in ("agent", "admin"):
        raise record_invalid("User: is not an agent", "user_id")
    if group is None or group["deleted"]:
        raise record_invalid("Group: is invalid", "group_id")
    if account.member_of(user["id"], group["id"]):
        raise record_invalid("User: is already a member of this group", "user_id")
    first = not any(m["user_id"] == user["id"] for m in account.memberships.values())
    membership = {"id": membership_id, "url": "", "user_id": user["id"], "group_id": group["id"], "default": first,
                  "created_at": now, "updated_at": now}
    account.memberships[membership_id] = membership
    if first:
        user["default_group_id"] = group["id"]
    events.membership(account, membership, created=True)
    return membership


def remove_membership(account: Account, membership: dict[str, Any], events: Events) -> None:
    """Delete Membership; when it was the user's default group, their next membership becomes the default."""
    del account.memberships[membership["id"]]
    user = account.users[membership["user_id"]]
    if membership["default"]:
        rest = sorted((m for m in account.memberships.values() if m["user_id"] == user["id"]), key=lambda m: m["id"])
        if rest:
            rest[0]["default"] = True
        user["default_group_id"] = rest[0]["group_id"] if rest else None
    events.membership(account, membership, created=False)


def _set_role(account: Account, user: dict[str, Any], role: Any) -> None:
    if role not in ROLES:
        raise record_invalid("Role: is not included in the list", "role")
    if role != user["role"]:
        user["role"] = role
        user["role_type"] = ADMIN_ROLE_TYPE if role == "admin" else None
        user["custom_role_id"] = account.role_id(ADMIN_ROLE_TYPE) if role == "admin" else None


def _set_custom_role(account: Account, user: dict[str, Any], role_id: Any) -> None:
    """An agent's custom role (Enterprise): the role decides `role_type` (a light agent's is 1)."""
    role = account.custom_roles.get(to_int(role_id) or -1)
    if role is None or user["role"] == "end-user":
        raise record_invalid("Custom role: is invalid", "custom_role_id")
    _set_role_type(account, user, role["role_type"])
    user["custom_role_id"] = role["id"]


def _set_role_type(account: Account, user: dict[str, Any], role_type: Any) -> None:
    if role_type is not None and role_type not in range(6):
        raise record_invalid("Role type: is invalid", "role_type")
    if user["role"] == "end-user":
        raise record_invalid("Role type: an end user has none", "role_type")
    user["role_type"] = role_type
    user["role"] = "admin" if role_type == ADMIN_ROLE_TYPE else "agent"
    user["custom_role_id"] = account.role_id(role_type) if role_type is not None else None


def _user_fields(account: Account, user: dict[str, Any], values: Any) -> dict[str, Any]:
    """Set user field values by key ("Specify field keys as the properties to set": Users API, user_fields). A
    checkbox holds a boolean; null clears a value. Keys of no user field are left out (not verified on Zendesk)."""
    if not isinstance(values, dict):
        raise record_invalid("User fields: must be an object", "user_fields")
    fields = {f["key"]: f for f in account.user_fields.values()}
    current = dict(user.get("user_fields") or {})
    for key, value in values.items():
        if key in fields:
            checkbox = fields[key]["type"] == "checkbox"
            current[key] = unset_value(fields[key]) if value is None else (bool(value) if checkbox else value)
    return current
