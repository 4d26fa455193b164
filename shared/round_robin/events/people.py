"""User events (active, suspended, role, custom role, deleted, group memberships, time zone): make the account's
rosters agree with Zendesk for that one user.

Zendesk may deliver these twice, late or out of order, so the payload's values are not trusted: the user and their
memberships are read again from Zendesk (`GET /api/v2/users/{id}`, 404 = deleted; `GET /api/v2/users/{id}/
group_memberships`), and each roster is then made to hold the user or not, with the roster's version
compare-and-set (RosterStore.set_member). Applying the same truth twice changes nothing, so duplicates and
reordering are harmless. The rule is the import's (rosters.build_rosters): an active, unsuspended agent or admin
whose role can take tickets, not excluded by the account, is in the roster of each group they belong to, and in the
account-wide one when they belong to any; newcomers join at the end. A custom role (`role_type` 0) may or may not
take tickets: as in the import, the group's assignable memberships decide.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from round_robin.assignment.agents import AgentStore
from round_robin.assignment.roster_import import import_group_roster
from round_robin.assignment.rosters import RosterStore, is_eligible
from round_robin.assignment.rotation import ACCOUNT_WIDE, Member
from round_robin.availability.rails_zones import RAILS_TO_IANA
from round_robin.errors import ZendeskNotFoundError
from round_robin.zendesk import users
from round_robin.zendesk.client import ZendeskClient

CUSTOM_ROLE = 0  # role_type of an agent in a custom role (developer.zendesk.com/api-reference/ticketing/users/users/)


@dataclass(frozen=True)
class UserSync:
    """What a user event changed: the groups the user joined (waking them may assign waiting tickets) and left."""

    joined: tuple[str, ...] = ()
    left: tuple[str, ...] = ()
    time_zone_changed: bool = False


class People:
    """Applies user events to rosters and to the agent's time zone (see the module docstring)."""

    def __init__(self, *, rosters: RosterStore, agents: AgentStore, clock: Callable[[], float] = time.time) -> None:
        self._rosters = rosters
        self._agents = agents
        self._clock = clock

    def sync_user(self, subdomain: str, client: ZendeskClient, user_id: int, excluded: Iterable[int]) -> UserSync:
        """Make every roster of the account hold `user_id` exactly where Zendesk now says they may take tickets."""
        try:
            user: dict[str, Any] | None = users.user(client, user_id)
        except ZendeskNotFoundError:
            user = None  # deleted for good
        wanted = self._groups(client, user, set(excluded))
        member = Member(user_id, str((user or {}).get("name") or user_id))
        joined: list[str] = []
        left: list[str] = []
        stored = {r.group_id: r for r in self._rosters.list(subdomain)}
        for group_id in sorted(set(stored) | wanted):
            present = group_id in wanted if group_id != ACCOUNT_WIDE else bool(wanted - {ACCOUNT_WIDE})
            changed = self._rosters.set_member(subdomain, group_id, member, present, self._clock(),
                                               read=stored.get(group_id))
            if changed is None and present:  # a group without a roster yet: import it whole (the user included)
                roster = import_group_roster(client, group_id, excluded)
                if roster is not None:
                    self._rosters.sync(subdomain, [roster], self._clock(), prune=False)
                    changed = any(m.id == user_id for m in roster.members)
            if changed:
                (joined if present else left).append(group_id)
        zone_changed = self._time_zone(subdomain, user_id, user) if user is not None else False
        return UserSync(tuple(joined), tuple(left), zone_changed)

    def _groups(self, client: ZendeskClient, user: dict[str, Any] | None, excluded: set[int]) -> set[str]:
        """The groups (ids as roster keys) whose roster should hold the user; empty if none should."""
        if user is None or not is_eligible(user) or user["id"] in excluded:
            return set()
        groups = {str(m["group_id"]) for m in users.memberships_of_user(client, user["id"])}
        if user.get("role_type") == CUSTOM_ROLE:
            groups = {g for g in groups if any(m["user_id"] == user["id"]
                                               for m in users.assignable_memberships_of_group(client, g))}
        return groups | ({ACCOUNT_WIDE} if groups else set())

    def _time_zone(self, subdomain: str, user_id: int, user: dict[str, Any]) -> bool:
        """Store the user's IANA time zone on their AGENT item if it differs (Zendesk gives `iana_time_zone`, and
        `time_zone` as a Rails name: availability/rails_zones.py)."""
        zone = user.get("iana_time_zone") or RAILS_TO_IANA.get(str(user.get("time_zone") or ""))
        if not zone or user.get("role") not in ("agent", "admin"):
            return False
        current = self._agents.agents(subdomain, {user_id: ""})[user_id]
        if current.time_zone == zone:
            return False
        self._agents.change(subdomain, user_id, {"time_zone": zone}, self._clock())
        return True
