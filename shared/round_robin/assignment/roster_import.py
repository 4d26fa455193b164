"""Importing rotation rosters from Zendesk: the whole account (connect, scheduled re-sync) or one group
(when Zendesk says an agent is no longer in the group, or a ticket names a group we have not seen)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from round_robin.assignment.rosters import build_rosters, iter_rosters
from round_robin.assignment.rotation import ACCOUNT_WIDE, Roster
from round_robin.errors import ZendeskNotFoundError
from round_robin.zendesk import users
from round_robin.zendesk.client import ZendeskClient


def import_rosters(client: ZendeskClient, excluded: Iterable[int] = ()) -> Iterator[Roster]:
    """Every group's roster plus the account-wide one, yielded one at a time for RosterStore.sync (agents, groups
    and assignable memberships read page by page, cursor-paginated: no list of the account is held whole)."""
    return iter_rosters(users.agents(client), users.groups(client), users.assignable_memberships(client), excluded)


def import_group_roster(client: ZendeskClient, group_id: str, excluded: Iterable[int] = ()) -> Roster | None:
    """One group's roster as Zendesk has it now; None if the group no longer exists."""
    if group_id == ACCOUNT_WIDE:
        *_, account_wide = import_rosters(client, excluded)
        return account_wide
    try:
        group = users.group(client, group_id)
    except ZendeskNotFoundError:
        return None
    memberships = list(users.assignable_memberships_of_group(client, group_id))
    agents = users.by_id(client, sorted({m["user_id"] for m in memberships}))
    rosters = build_rosters(agents, [group], memberships, excluded)
    return next((r for r in rosters if r.group_id == str(group_id)), None)
