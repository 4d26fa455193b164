"""How the next agent is chosen: rotation order among the agents eligible at that moment.

A group's rotation state is a pointer to the agent assigned last (`last_agent_id`) and a sequence number. The
next ticket goes to the first agent after the pointer, in roster order and wrapping around, whom the eligibility
rule accepts (`walk`); the pointer then moves to them, atomically with the agent's count (selection.py). The
pointer only ever moves forward around the roster, so an agent eligible all along is never passed over: over
any stretch in which eligibility does not change, every eligible agent gets one ticket per lap, and the spread
among them is at most 1. An agent coming back from away simply takes their next turn when the pointer reaches
them; nobody "catches up". A retry reuses the agent its claim already holds (see claims.py), so Zendesk errors
and redeliveries never skip anyone. When the roster changes, the pointer stays on its agent; if that agent left,
it moves back to the member before their old place, so that whoever was next stays next (`rebase_last`).
Everything here is pure.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
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
    version: int = field(default=0, compare=False)  # bumped whenever the members change


@dataclass(frozen=True)
class Rotation:
    """A group's rotation state: who was assigned last, how many assignments so far, for which roster version."""

    last_agent_id: int | None = None
    sequence: int = 0
    roster_version: int = 0


@dataclass(frozen=True)
class Choice:
    """Who gets the ticket, and the rotation's sequence number that chose them."""

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


def walk(members: Sequence[Member], last_agent_id: int | None) -> list[Member]:
    """The members in the order their turns come: from the one after `last_agent_id` round to that agent.

    From the first member when there is no pointer, or when it names someone no longer in the roster.
    """
    ids = [m.id for m in members]
    start = ids.index(last_agent_id) + 1 if last_agent_id in ids else 0
    return [*members[start:], *members[:start]]


def rebase_last(previous: Sequence[Member], last_agent_id: int | None, current: Sequence[Member]) -> int | None:
    """The pointer under which `current` continues the rotation where `previous` stood.

    The last agent still in the roster keeps the pointer. If they left, it goes to the member before their old
    place (going backwards, the first one who stays), so that the next turn is still the one after the leaver.
    None (start from the first member) when nobody before them stays or there was no pointer.
    """
    staying = {m.id for m in current}
    if last_agent_id is None or last_agent_id in staying:
        return last_agent_id
    old = [m.id for m in previous]
    if last_agent_id not in old:
        return None
    place = old.index(last_agent_id)
    for back in range(1, len(old)):
        candidate = old[(place - back) % len(old)]
        if candidate in staying:
            return candidate
    return None


def last_from_position(members: Sequence[Member], position: int) -> int | None:
    """The pointer equivalent to a counter-based roster's `position` (before the rotation had its own item):
    the agent who got position `position`, so that the one at `position + 1` is next."""
    return pick(tuple(members), position).id if position > 0 and members else None
