"""Users, groups and group memberships: who the credentials belong to, and the agents and their groups that
the rosters are built from. Lists are cursor-paginated, 100 a page (ZendeskClient.paginate)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from round_robin.zendesk.client import ZendeskClient

SHOW_MANY_LIMIT = 100  # ids per Show Many Users call


def me(client: ZendeskClient) -> dict[str, Any]:
    """The user the credentials belong to."""
    return client.get("/api/v2/users/me.json")["user"]


def agents(client: ZendeskClient) -> Iterator[dict[str, Any]]:
    """Every agent and admin (active or not; callers filter)."""
    return client.paginate("/api/v2/users.json", "users", {"role[]": ["agent", "admin"]})


def by_id(client: ZendeskClient, user_ids: list[int]) -> list[dict[str, Any]]:
    """Users by id, SHOW_MANY_LIMIT per call."""
    found: list[dict[str, Any]] = []
    for start in range(0, len(user_ids), SHOW_MANY_LIMIT):
        chunk = ",".join(str(i) for i in user_ids[start:start + SHOW_MANY_LIMIT])
        found += client.get("/api/v2/users/show_many.json", {"ids": chunk}).get("users", [])
    return found


def groups(client: ZendeskClient) -> Iterator[dict[str, Any]]:
    """Every group of the account."""
    return client.paginate("/api/v2/groups.json", "groups")


def group(client: ZendeskClient, group_id: int | str) -> dict[str, Any]:
    """One group (ZendeskNotFoundError once it is deleted)."""
    return client.get(f"/api/v2/groups/{group_id}.json")["group"]


def assignable_memberships(client: ZendeskClient) -> Iterator[dict[str, Any]]:
    """The memberships whose agent can be assigned tickets (no light agents or contributors), all groups.

    List Assignable Memberships: cursor pagination, at most 100 a page (developer.zendesk.com/api-reference/
    ticketing/groups/group_memberships/#list-assignable-memberships).
    """
    return client.paginate("/api/v2/group_memberships/assignable.json", "group_memberships")


def assignable_memberships_of_group(client: ZendeskClient, group_id: int | str) -> Iterator[dict[str, Any]]:
    """One group's memberships whose agent can be assigned tickets (same endpoint, per group)."""
    return client.paginate(f"/api/v2/groups/{group_id}/memberships/assignable.json", "group_memberships")


def user(client: ZendeskClient, user_id: int) -> dict[str, Any]:
    """One user (ZendeskNotFoundError once it is deleted for good)."""
    return client.get(f"/api/v2/users/{user_id}.json")["user"]


def memberships_of_user(client: ZendeskClient, user_id: int) -> Iterator[dict[str, Any]]:
    """One user's group memberships, assignable or not: List Memberships, `GET /api/v2/users/{user_id}/
    group_memberships`, cursor-paginated, 100 a page (developer.zendesk.com/api-reference/ticketing/groups/
    group_memberships/#list-memberships). Zendesk has no per-user list of assignable memberships."""
    return client.paginate(f"/api/v2/users/{user_id}/group_memberships.json", "group_memberships")


def user_field(client: ZendeskClient, field_id: int) -> dict[str, Any]:
    """One user field: Show User Field, `GET /api/v2/user_fields/{user_field_id}` (its `key`, `title`, `type`)."""
    return client.get(f"/api/v2/user_fields/{field_id}.json")["user_field"]
