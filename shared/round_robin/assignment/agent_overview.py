"""The agents of an account as operators see them (the CLI's `agents` and the console's Agents page): who is in
which rotation, available or not and why, their counts against their caps, and whether they may take a ticket now;
each group's roster in rotation order with who is next.

Agents come from the rosters (the members of each group's roster and of the account-wide one) and from the
account's excluded agents, who are in no roster. Availability and eligibility come from the stored agent states,
the account's policy and schedules, through the same rule as the selection (availability.rules). An agent is
eligible now if they may take a ticket of at least one of their groups; otherwise `why_not` is the first reason.
Availability's source is the one that makes them away or out of office, "none" when nothing does.
A group's roster is listed from the agent after the one assigned last (rotation.walk); who is next is the first of
them the rule accepts for that group now, as the selection would pick.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from round_robin.assignment.rotation import ACCOUNT_WIDE, Roster, Rotation, walk
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
    backup_id: int | None = None  # who takes over while out of office
    last_assigned_at: float | None = None  # when the service last assigned them a ticket

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
        own_ooo = availability == OUT_OF_OFFICE and source == "service"
        return Agent(agent_id, name, tuple(groups.get(agent_id, ())), state.in_rotation and not is_excluded,
                     availability, source, eligible, why_not, state.ooo_until if own_ooo else None,
                     state.open_count, open_cap, counts_today(state, now), daily_cap,
                     state.backup_id if own_ooo else None, state.last_assigned_at)

    agents = [agent(agent_id, name, False) for agent_id, name in roster_names.items()]
    agents += [agent(agent_id, names.get(agent_id) or UNKNOWN_NAME, True)
               for agent_id in sorted(set(excluded) - set(roster_names))]
    return sorted(agents, key=lambda a: (a.name == UNKNOWN_NAME, a.name.casefold(), a.id))


def unknown_agents(agent_ids: Iterable[int], rosters: Iterable[Roster], excluded: Iterable[int]) -> list[int]:
    """The ids that are neither in a roster of the account nor already excluded, in the order given."""
    known = set(excluded) | {m.id for r in rosters for m in r.members}
    return [agent_id for agent_id in dict.fromkeys(agent_ids) if agent_id not in known]


@dataclass(frozen=True)
class RosterTurn:
    """One member of a group's roster at their place in the rotation: `turn` 1 is the next turn."""

    turn: int
    agent_id: int
    name: str
    eligible: bool  # for this group now (working hours are per group)
    why_not: str | None = None


@dataclass(frozen=True)
class GroupRoster:
    group_id: str
    group_name: str
    turns: tuple[RosterTurn, ...]  # every member, in the order their turns come
    next_agent_id: int | None  # who the next ticket of the group goes to now (None: nobody may take it)
    last_agent_id: int | None = None  # who was assigned last


def rosters_in_turn(rosters: Iterable[Roster], rotations: Mapping[str, Rotation],
                    states: Mapping[int, AgentState] | None = None, policy: AccountPolicy | None = None,
                    schedules: Sequence[Schedule] = (), now: float = 0.0) -> list[GroupRoster]:
    """Each roster in rotation order from the agent after the one assigned last, with who is next (see the module
    docstring); `rotations` by group id (a group without one starts at its first member)."""
    policy = policy or AccountPolicy()
    names = {m.id: m.name for r in rosters for m in r.members}
    result = []
    for roster in rosters:
        last = rotations.get(roster.group_id, Rotation()).last_agent_id
        turns = []
        for number, member in enumerate(walk(roster.members, last), 1):
            state = (states or {}).get(member.id) or AgentState(member.id, member.name)
            verdict = eligibility(state, policy, schedules, roster.group_id, now, names=names)
            turns.append(RosterTurn(number, member.id, member.name, verdict.eligible,
                                    None if verdict.eligible else verdict.detail))
        next_id = next((t.agent_id for t in turns if t.eligible), None)
        result.append(GroupRoster(roster.group_id, roster.group_name, tuple(turns), next_id,
                                  last if any(m.id == last for m in roster.members) else None))
    return result


def operator_notices(agent_id: int, changed: AgentState, now: float) -> list[tuple[str, dict[str, Any]]]:
    """What an operator's change of an agent announces on the events queue (kind, payload): the change, and the
    absence when out of office starts now (what it reassigns is due now)."""
    notices: list[tuple[str, dict[str, Any]]] = [("agent_changed", {"agent_id": agent_id})]
    if changed.status == OUT_OF_OFFICE and (changed.ooo_from is None or changed.ooo_from <= now):
        notices.append(("absence", {"agent_id": agent_id}))
    return notices
