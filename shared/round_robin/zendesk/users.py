"""Users, groups and group memberships: who the credentials belong to, and the agents and their groups that
the rosters are built from. Lists are cursor-paginated, 100 a page (ZendeskClient.paginate)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from round_robin.zendesk.client import PAGE_SIZE, ZendeskClient

SHOW_MANY_LIMIT = 100  # ids per Show Many Users call


@dataclass(frozen=True)
class Listing:
    """A cursor-paginated list: its path, the key of its records, its filters."""

    path: str
    key: str
    params: dict[str, Any] = field(default_factory=dict)

    def first_page(self) -> dict[str, Any]:
        """The query of the list's first page."""
        return {**self.params, "page[size]": PAGE_SIZE}

    def read(self, client: ZendeskClient) -> Iterator[dict[str, Any]]:
        """Every record, page after page."""
        return client.paginate(self.path, self.key, self.params)


AGENTS = Listing("/api/v2/users.json", "users", {"role[]": ["agent", "admin"]})
GROUPS = Listing("/api/v2/groups.json", "groups")
# List Assignable Memberships: cursor pagination, at most 100 a page (developer.zendesk.com/api-reference/
# ticketing/groups/group_memberships/#list-assignable-memberships).
ASSIGNABLE_MEMBERSHIPS = Listing("/api/v2/group_memberships/assignable.json", "group_memberships")


def me(client: ZendeskClient) -> dict[str, Any]:
    """The user the credentials belong to."""
    return client.get("/api/v2/users/me.json")["user"]


def agents(client: ZendeskClient) -> Iterator[dict[str, Any]]:
    """Every agent and admin (active or not; callers filter)."""
    return AGENTS.read(client)


def by_id(client: ZendeskClient, user_ids: list[int]) -> list[dict[str, Any]]:
    """Users by id, SHOW_MANY_LIMIT per call."""
    found: list[dict[str, Any]] = []
    for start in range(0, len(user_ids), SHOW_MANY_LIMIT):
        chunk = ",".join(str(i) for i in user_ids[start:start + SHOW_MANY_LIMIT])
        found += client.get("/api/v2/users/show_many.json", {"ids": chunk}).get("users", [])
    return found


def groups(client: ZendeskClient) -> Iterator[dict[str, Any]]:
    """Every group of the account."""
    return GROUPS.read(client)


def group(client: ZendeskClient, group_id: int | str) -> dict[str, Any]:
    """One group (ZendeskNotFoundError once it is deleted)."""
    return client.get(f"/api/v2/groups/{group_id}.json")["group"]


def assignable_memberships(client: ZendeskClient) -> Iterator[dict[str, Any]]:
    """The memberships whose agent can be assigned tickets (no light agents or contributors), all groups."""
    return ASSIGNABLE_MEMBERSHIPS.read(client)


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
