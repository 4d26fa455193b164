"""How the next agent is chosen: strict rotation over a roster, driven by an atomic DynamoDB counter.

Each assignment in a group takes the next value of the group's counter (ADD 1, atomic across every concurrent
worker; RosterStore.advance) and gives the ticket to `members[(position - 1) % k]`. Positions are consecutive and
unique, so over any N assignments in a group of k agents with no roster change, every agent gets floor(N/k) or
ceil(N/k) tickets. A retry reuses the position it already took (see claims.py), so Zendesk errors and
redeliveries never skip anyone. When the roster changes, the counter is re-based so that whoever was next stays
next (rebase_position). Everything here is pure.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

ACCOUNT_WIDE = "*"  # the roster of tickets without a group


@dataclass(frozen=True)
class Member:
    id: int
    name: str


@dataclass(frozen=True)
class Roster:
    group_id: str  # a Zendesk group id, or ACCOUNT_WIDE
    group_name: str
    members: tuple[Member, ...]
    position: int = field(default=0, compare=False)


@dataclass(frozen=True)
class Choice:
    """Who gets the ticket, and the rotation position that chose them."""

    agent: Member
    position: int
    group_id: str


def pick(members: tuple[Member, ...], position: int) -> Member:
    """The agent at rotation `position` (1-based) of a non-empty roster."""
    return members[(position - 1) % len(members)]


def roster_key(group_id: int | str | None) -> str:
    """The roster for a ticket's group; tickets without a group use the account-wide rotation."""
    return str(group_id) if group_id not in (None, "") else ACCOUNT_WIDE


def merge_members(previous: Iterable[Member], current: Iterable[Member]) -> tuple[Member, ...]:
    """Keep the previous order for those who stay (with fresh names), drop leavers, append newcomers."""
    now = {m.id: m for m in current}
    kept = [now[m.id] for m in previous if m.id in now]
    kept_ids = {m.id for m in kept}
    return tuple(kept + [m for m in now.values() if m.id not in kept_ids])


def rebase_position(previous: tuple[Member, ...], position: int, current: tuple[Member, ...]) -> int:
    """The counter value under which `current` continues the rotation where `previous` stood.

    With counter value p the next assignment goes to index p % k. When members leave or join, that mapping
    would shift and skip (or repeat) someone; instead the agent who was next stays next: the first member, from
    the one that was next onwards in the old order, who is still in the roster. Newcomers, at the end, wait
    their turn.
    """
    if not previous or not current:
        return 0
    staying = {m.id for m in current}
    start = position % len(previous)
    for offset in range(len(previous)):
        candidate = previous[(start + offset) % len(previous)]
        if candidate.id in staying:
            return next(i for i, m in enumerate(current) if m.id == candidate.id)
    return 0
