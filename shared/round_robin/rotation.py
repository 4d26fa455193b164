"""How the next agent is chosen: strict rotation over a roster, driven by an atomic DynamoDB counter.

Each assignment in a group takes the next value of the group's counter (ADD 1, atomic across every concurrent
worker) and gives the ticket to `members[(position - 1) % k]`. Positions are consecutive and unique, so over
any N assignments in a group of k eligible agents with no roster change, every agent gets floor(N/k) or
ceil(N/k) tickets. A retry reuses the position it already took (see assignments.py), so Zendesk errors and
redeliveries never skip anyone.
"""

from __future__ import annotations

from dataclasses import dataclass

from round_robin.rosters import ACCOUNT_WIDE, Member, Roster, RosterStore


@dataclass(frozen=True)
class Choice:
    agent: Member
    position: int
    group_id: str


def pick(members: tuple[Member, ...], position: int) -> Member:
    """The agent at rotation `position` (1-based) of a non-empty roster."""
    return members[(position - 1) % len(members)]


def roster_key(group_id: int | str | None) -> str:
    """The roster for a ticket's group; tickets without a group use the account-wide rotation."""
    return str(group_id) if group_id not in (None, "") else ACCOUNT_WIDE


def next_agent(store: RosterStore, subdomain: str, group_id: str) -> Choice | None:
    """Advance the group's rotation by one and return who is next; None if it has no roster or nobody in it."""
    roster: Roster | None = store.advance(subdomain, group_id)
    if roster is None or not roster.members:
        return None
    return Choice(pick(roster.members, roster.position), roster.position, group_id)
