"""Who may take a ticket now: the eligibility of one agent for one group, from every source the account follows.

An agent may get a ticket only when all of these hold: they are an assignable member of the ticket's group (the
caller's roster says so: rotation.py, rosters.py); they are in rotation; they are available now; they are under
their capacity. When several sources disagree, the first that says no gives the verdict, in this order:

1. not in rotation (the operator's exclusion);
2. the service's own status: out of office (between its start and the start of its return date in the agent's
   time zone; it ends by itself), then away. The operator's word wins over every automatic source, so an agent
   out of office is not eligible even when Zendesk says online;
3. the Out of Office app's "Agent Out?" field, when the account follows it;
4. Zendesk's unified agent status, when the account follows it: its name through the account's status map
   (unknown names are away; no status received yet says nothing);
5. working hours: the agent's own schedule, else the group's (none for the account-wide roster unless the agent
   has their own); a holiday closes the whole day;
6. capacity: open tickets under the open cap, then tickets today (the agent's local day) under the daily cap.
   Each cap is the agent's override, else the account default; None is no cap.

The verdict's `until` is when it may change by itself: the return date of an out of office, the next opening of
the hours, the agent's next local midnight for the daily cap; for an eligible agent, the earliest of a scheduled
out-of-office start and the closing of the hours. Everything here is pure: `now` is passed in.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from round_robin.availability.localtime import local_date, next_midnight, start_of_day
from round_robin.availability.model import (
    AVAILABLE,
    AWAY,
    OUT_OF_OFFICE,
    AccountPolicy,
    AgentState,
    Schedule,
    Verdict,
)
from round_robin.availability.schedules import holiday_at, schedule_for, within_hours


def eligibility(
    agent: AgentState, policy: AccountPolicy, schedules: Sequence[Schedule], group_id: str, now: float,
    *, names: Mapping[int, str] | None = None,
) -> Verdict:
    """Whether `agent` may take a ticket of `group_id` at `now`, and if not, the first reason (see the module doc).

    `names` (agent id -> name) only words the detail, e.g. the backup of an agent out of office.
    """
    if not agent.in_rotation:
        return Verdict(False, "not_in_rotation", "rotation", "not in rotation")
    upcoming: list[float] = []
    if policy.own_status:
        status = own_status(agent, now)
        if status == OUT_OF_OFFICE:
            return Verdict(False, "out_of_office", "service", _ooo_detail(agent, names or {}), return_at(agent))
        if status == AWAY:
            return Verdict(False, "away", "service", "away")
        if agent.status == OUT_OF_OFFICE and agent.ooo_from is not None and agent.ooo_from > now:
            upcoming.append(agent.ooo_from)
    if policy.ooo_app and agent.ooo_app:
        return Verdict(False, "ooo_app", "ooo_app", 'Out of Office app: "Agent Out?" is checked')
    if policy.zendesk_status and zendesk_availability(agent, policy) == AWAY:
        name = agent.zendesk_status or ""
        return Verdict(False, "zendesk_status", "zendesk", f"Zendesk status: {name[:1].upper()}{name[1:]}")
    schedule = schedule_for(agent.id, group_id, schedules) if policy.working_hours else None
    if schedule is not None:
        is_open, change = within_hours(schedule, now)
        if not is_open:
            return _closed(schedule, now, change)
        if change is not None:
            upcoming.append(change)
    capped = _over_capacity(agent, policy, now)
    if capped is not None:
        return capped
    return Verdict(True, "eligible", "", "available", min(upcoming, default=None))


def counts_today(agent: AgentState, now: float) -> int:
    """The tickets the agent got today: daily_count if daily_date is the agent's local date now, else 0."""
    return agent.daily_count if agent.daily_date == local_date(now, agent.time_zone) else 0


def own_status(agent: AgentState, now: float) -> str:
    """The service's own status in effect at `now`: an out of office counts from its start until its return date."""
    if agent.status != OUT_OF_OFFICE:
        return agent.status
    back = return_at(agent)
    started = agent.ooo_from is None or now >= agent.ooo_from
    return OUT_OF_OFFICE if started and (back is None or now < back) else AVAILABLE


def return_at(agent: AgentState) -> float | None:
    """When an out-of-office agent is back: the start of their return date in their own time zone."""
    return start_of_day(agent.ooo_until, agent.time_zone) if agent.ooo_until else None


def backup_of(agent: AgentState, now: float) -> int | None:
    """Who takes over an agent's tickets: their backup while they are out of office, else nobody."""
    return agent.backup_id if own_status(agent, now) == OUT_OF_OFFICE else None


def zendesk_availability(agent: AgentState, policy: AccountPolicy) -> str | None:
    """Zendesk's status of the agent through the account's map (unknown names are AWAY; None: none received)."""
    if agent.zendesk_status is None:
        return None
    return policy.status_map.get(agent.zendesk_status.strip().lower(), AWAY)


def caps(agent: AgentState, policy: AccountPolicy) -> tuple[int | None, int | None]:
    """The agent's open and daily caps: their own override, else the account default (None: no cap)."""
    return (agent.open_cap if agent.open_cap is not None else policy.open_cap,
            agent.daily_cap if agent.daily_cap is not None else policy.daily_cap)


def under_cap(count: int, cap: int | None) -> bool:
    """Whether one more ticket fits: `count` is below `cap` (None: no cap; 0: none at all)."""
    return cap is None or count < cap


def _ooo_detail(agent: AgentState, names: Mapping[int, str]) -> str:
    detail = f"out of office until {agent.ooo_until}" if agent.ooo_until else "out of office"
    if agent.backup_id is not None:
        detail += f" (backup: {names.get(agent.backup_id, f'agent {agent.backup_id}')})"
    return detail


def _closed(schedule: Schedule, now: float, reopens: float | None) -> Verdict:
    holiday = holiday_at(schedule, now)
    where = f"{schedule.name} hours ({schedule.time_zone})"
    if holiday is None:
        return Verdict(False, "off_hours", "schedule", f"outside {where}", reopens)
    days = holiday[0] if holiday[0] == holiday[1] else f"{holiday[0]} to {holiday[1]}"
    return Verdict(False, "holiday", "schedule", f"holiday {days} in {where}", reopens)


def _over_capacity(agent: AgentState, policy: AccountPolicy, now: float) -> Verdict | None:
    open_cap, daily_cap = caps(agent, policy)
    if not under_cap(agent.open_count, open_cap):
        return Verdict(False, "open_cap", "capacity", f"{agent.open_count} of {open_cap} open tickets")
    today = counts_today(agent, now)
    if not under_cap(today, daily_cap):
        return Verdict(False, "daily_cap", "capacity", f"{today} of {daily_cap} tickets today",
                       next_midnight(now, agent.time_zone))
    return None
