"""The agents of an account as operators see them: who is in which rotation, available or not and why, their
counts against their caps, and whether they may take a ticket now.

Agents come from the rosters (the members of each group's roster and of the account-wide one) and from the
account's excluded agents, who are in no roster. Availability and eligibility come from the stored agent states,
the account's policy and schedules, through the same rule as the selection (availability.rules). An agent is
eligible now if they may take a ticket of at least one of their groups; otherwise `why_not` is the first reason.
Availability's source is the one that makes them away or out of office, "none" when nothing does.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from round_robin.assignment.rotation import ACCOUNT_WIDE, Roster
from round_robin.availability.model import AVAILABLE, AWAY, OUT_OF_OFFICE, AccountPolicy, AgentState, Schedule
from round_robin.availability.rules import caps, counts_today, eligibility, own_status, zendesk_availability

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
    return_date: str | None = None  # the first day back from out of office
    open_count: int = 0
    open_cap: int | None = None
    daily_count: int = 0  # today, in the agent's time zone
    daily_cap: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "groups": list(self.groups)}


def availability_of(agent: AgentState, policy: AccountPolicy, now: float) -> tuple[str, str]:
    """The agent's availability now (available, away, ooo) and the source that says so ("none": nothing says
    otherwise), in the rule's order: the service's own status, the Out of Office app, Zendesk's status."""
    status = own_status(agent, now) if policy.own_status else AVAILABLE
    if status != AVAILABLE:
        return status, "service"
    if policy.ooo_app and agent.ooo_app:
        return OUT_OF_OFFICE, "ooo_app"
    if policy.zendesk_status and agent.zendesk_status is not None:
        return zendesk_availability(agent, policy) or AWAY, "zendesk"
    return AVAILABLE, "none"


def list_agents(rosters: Iterable[Roster], excluded: Iterable[int], names: Mapping[int, str],
                states: Mapping[int, AgentState] | None = None, policy: AccountPolicy | None = None,
                schedules: Sequence[Schedule] = (), now: float = 0.0) -> list[Agent]:
    """Every agent of the rosters and every excluded one (named from `names` if known), by name then id, the
    unnamed last; `states` (by id) default to an available agent with nothing counted."""
    policy = policy or AccountPolicy()
    groups: dict[int, list[str]] = {}
    group_ids: dict[int, list[str]] = {}
    roster_names: dict[int, str] = {}
    for roster in rosters:
        for member in roster.members:
            roster_names[member.id] = member.name
            group_ids.setdefault(member.id, []).append(roster.group_id)
            if roster.group_id != ACCOUNT_WIDE:
                groups.setdefault(member.id, []).append(roster.group_name)
    all_names = {**names, **roster_names}

    def agent(agent_id: int, name: str, is_excluded: bool) -> Agent:
        state = (states or {}).get(agent_id) or AgentState(agent_id, name)
        availability, source = availability_of(state, policy, now)
        verdicts = [eligibility(state, policy, schedules, g, now, names=all_names) for g in group_ids.get(agent_id, ())]
        eligible = not is_excluded and any(v.eligible for v in verdicts)
        why_not = EXCLUDED if is_excluded else None if eligible else verdicts[0].detail if verdicts else "no group"
        open_cap, daily_cap = caps(state, policy)
        return Agent(agent_id, name, tuple(groups.get(agent_id, ())), state.in_rotation and not is_excluded,
                     availability, source, eligible, why_not,
                     state.ooo_until if availability == OUT_OF_OFFICE and source == "service" else None,
                     state.open_count, open_cap, counts_today(state, now), daily_cap)

    agents = [agent(agent_id, name, False) for agent_id, name in roster_names.items()]
    agents += [agent(agent_id, names.get(agent_id) or UNKNOWN_NAME, True)
               for agent_id in sorted(set(excluded) - set(roster_names))]
    return sorted(agents, key=lambda a: (a.name == UNKNOWN_NAME, a.name.casefold(), a.id))


def unknown_agents(agent_ids: Iterable[int], rosters: Iterable[Roster], excluded: Iterable[int]) -> list[int]:
    """The ids that are neither in a roster of the account nor already excluded, in the order given."""
    known = set(excluded) | {m.id for r in rosters for m in r.members}
    return [agent_id for agent_id in dict.fromkeys(agent_ids) if agent_id not in known]
