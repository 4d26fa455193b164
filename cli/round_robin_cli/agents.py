"""The agents of an account as operators see them: who is in which rotation, and who is kept out.

Agents come from the rosters (the members of each group's roster and of the account-wide one) and from the
account's excluded agents, who are in no roster. Availability and its source, return dates and caps come with
the service's own availability; until then every agent is "available" (source "none"), and eligible means in
rotation.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

from round_robin.assignment.rotation import ACCOUNT_WIDE, Roster

UNKNOWN_NAME = "(excluded, name unknown)"
EXCLUDED = "excluded"


@dataclass(frozen=True)
class Agent:
    id: int
    name: str
    groups: tuple[str, ...]
    in_rotation: bool
    availability: str
    availability_source: str
    eligible: bool
    why_not: str | None = None  # why the agent takes no ticket now (None when eligible)

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "groups": list(self.groups)}


def list_agents(rosters: Iterable[Roster], excluded: Iterable[int], names: Mapping[int, str]) -> list[Agent]:
    """Every agent of the rosters and every excluded one (named from `names` if known), by name then id, the
    unnamed last."""
    groups: dict[int, list[str]] = {}
    roster_names: dict[int, str] = {}
    for roster in rosters:
        for member in roster.members:
            roster_names[member.id] = member.name
            if roster.group_id != ACCOUNT_WIDE:
                groups.setdefault(member.id, []).append(roster.group_name)
    agents = [Agent(agent_id, name, tuple(groups.get(agent_id, ())), True, "available", "none", True)
              for agent_id, name in roster_names.items()]
    agents += [Agent(agent_id, names.get(agent_id) or UNKNOWN_NAME, (), False, "available", "none", False, EXCLUDED)
               for agent_id in sorted(set(excluded) - set(roster_names))]
    return sorted(agents, key=lambda a: (a.name == UNKNOWN_NAME, a.name.casefold(), a.id))


def unknown_agents(agent_ids: Iterable[int], rosters: Iterable[Roster], excluded: Iterable[int]) -> list[int]:
    """The ids that are neither in a roster of the account nor already excluded, in the order given."""
    known = set(excluded) | {m.id for r in rosters for m in r.members}
    return [agent_id for agent_id in dict.fromkeys(agent_ids) if agent_id not in known]
