"""The console's Agents page (`/admin/agents`): each group's roster in rotation order with who is next, every
agent's rotation, availability, absence, caps and counts, and the changes an operator can make (the CLI's).

The data is what `round-robin agents` shows (assignment/agent_overview.py), read in a handful of DynamoDB calls
whatever the number of agents: the account, its rosters, their rotation states, the agent items (one Query, the
fields shown only), the policy. The rosters (their members: most of what is read) are read again only when their
version moved since this warm container read them (RosterStore.current: one Query of the versions checks). A page
shows PAGE_SIZE agents; the name and group filters come from the query string. Changes are
checked by availability/validation.py before anything is written, and announced on the events queue as the CLI
announces them. The account is always the signed-in one, passed in by the caller, never read from the request.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from round_robin.accounts.registry import Account
from round_robin.assignment.agent_overview import (
    UNKNOWN_NAME,
    Agent,
    GroupRoster,
    RosterTurn,
    list_agents,
    operator_notices,
    rosters_in_turn,
)
from round_robin.assignment.agents import OVERVIEW_FIELDS
from round_robin.assignment.rotation import ACCOUNT_WIDE, Roster, Rotation
from round_robin.availability.errors import InvalidInputError
from round_robin.availability.model import AccountPolicy, AgentState, Schedule
from round_robin.availability.validation import parse_agent_id, parse_cap, status_change
from round_robin.console.fragments import esc, hidden, href, message, table, when

PATH = "/admin/agents"
PAGE_SIZE = 50
MAX_FILTER = 100  # characters of a name filter


class Registry(Protocol):
    def get(self, subdomain: str) -> Account | None: ...


class Rosters(Protocol):
    def current(self, subdomain: str) -> list[Roster]: ...  # before `list`, which names the type in the class

    def list(self, subdomain: str) -> list[Roster]: ...

    def rotations(self, subdomain: str) -> dict[str, Rotation]: ...


class Agents(Protocol):
    def listed(self, subdomain: str, fields: tuple[str, ...] | None = None) -> Mapping[int, AgentState]: ...

    def agents(self, subdomain: str, names: Mapping[int, str]) -> Mapping[int, AgentState]: ...

    def change(self, subdomain: str, agent_id: int, changes: Mapping[str, Any], now: float) -> None: ...


class Policies(Protocol):
    def get(self, subdomain: str) -> tuple[AccountPolicy, tuple[Schedule, ...]]: ...


# (subdomain, [(kind, payload)]) -> whether the events queue took them (False: applied at the next maintenance run)
Announce = Callable[[str, Sequence[tuple[str, dict[str, Any]]]], bool]
NOT_ANNOUNCED = " (stored; the service applies it at its next maintenance run: the events queue did not answer)"


@dataclass(frozen=True)
class AgentsQuery:
    """The page's filters, checked: a name part, a group id ("" all), the page (1-based), the agent being edited."""

    name: str = ""
    group: str = ""
    page: int = 1
    agent: int | None = None


def parse_query(query: Mapping[str, str]) -> AgentsQuery:
    """The query string's filters; InvalidInputError names the first bad one."""
    name = " ".join(str(query.get("q", "")).split())
    if len(name) > MAX_FILTER:
        raise InvalidInputError(f"the name filter is longer than {MAX_FILTER} characters")
    group = str(query.get("group", "")).strip()
    if group and group != ACCOUNT_WIDE and not (group.isascii() and group.isdigit()):
        raise InvalidInputError(f"group must be a Zendesk group id, got {group[:40]!r}")
    return AgentsQuery(name, group, _number(query.get("page", "1") or "1", "page"),
                       _number(query["agent"], "agent") if query.get("agent") else None)


def _number(value: str, what: str) -> int:
    text = str(value).strip()
    if not (text.isascii() and text.isdigit()) or not 0 < int(text) < 10**15:
        raise InvalidInputError(f"{what} must be a whole number, got {text[:40]!r}")
    return int(text)


@dataclass(frozen=True)
class AccountAgents:
    """What the page shows, for one account at one time."""

    agents: list[Agent]
    rosters: list[GroupRoster]
    known: dict[int, str]  # every agent of the account (roster members and excluded ones), id -> name
    states: dict[int, AgentState]  # the stored agent items (their own cap overrides); absent: the defaults


class AgentsPage:
    """Reads, renders and changes the Agents page of one account at a time (see the module docstring)."""

    def __init__(self, *, registry: Registry, rosters: Rosters, agents: Agents, policies: Policies,
                 announce: Announce) -> None:
        self._registry = registry
        self._rosters = rosters
        self._agents = agents
        self._policies = policies
        self._announce = announce

    def load(self, subdomain: str, now: float) -> AccountAgents:
        """The account's agents and rosters as `round-robin agents` computes them."""
        account = self._registry.get(subdomain)
        excluded = account.excluded_agent_ids if account else ()
        rosters = self._rosters.current(subdomain)  # only those changed since this container read them
        rotations = self._rosters.rotations(subdomain)
        policy, schedules = self._policies.get(subdomain)
        # the fields shown (the names come from the rosters): a read costs per attribute returned
        states = dict(self._agents.listed(subdomain, OVERVIEW_FIELDS))
        known = {i: "" for i in excluded} | {m.id: m.name for r in rosters for m in r.members}
        agents = list_agents(rosters, excluded, {}, states, policy, schedules, now)
        return AccountAgents(agents, rosters_in_turn(rosters, rotations, states, policy, schedules, now), known,
                             states)

    def render(self, subdomain: str, query: Mapping[str, str], *, csrf_token: str, now: float,
               error: str | None = None, notice: str | None = None) -> str:
        """The page's body (HTML); a bad filter is shown as an error above the unfiltered page."""
        try:
            asked = parse_query(query)
        except InvalidInputError as exc:
            asked, error = AgentsQuery(), str(exc)
        data = self.load(subdomain, now)
        groups = {r.group_id: r for r in data.rosters}
        if asked.group and asked.group not in groups:
            asked, error = dataclasses.replace(asked, group=""), f"{subdomain} has no group {asked.group}"
        parts = [message(error, "error"), message(notice, "notice"), _filters(asked, data.rosters),
                 _groups(data.rosters, {a.id: a for a in data.agents})]
        if asked.agent is not None:
            edited = next((a for a in data.agents if a.id == asked.agent), None)
            state = data.states.get(asked.agent) or AgentState(asked.agent, "")
            parts.append(_editor(edited, state, data.known, asked, csrf_token) if edited else
                         message(f"{subdomain} has no agent {asked.agent}", "error"))
        parts.append(_agent_table(data, asked, groups.get(asked.group)))
        return "\n".join(p for p in parts if p)

    def edit(self, subdomain: str, form: Mapping[str, str], now: float) -> str:
        """Apply one change from a form (`action`: availability, caps or rotation, with `agent_id`); the notice to
        show. Every field is checked first: InvalidInputError and nothing stored on a mistake."""
        account = self._registry.get(subdomain)
        rosters = self._rosters.list(subdomain)
        known = {i: "" for i in (account.excluded_agent_ids if account else ())}
        known.update({m.id: m.name for r in rosters for m in r.members})
        agent_id = parse_agent_id(form.get("agent_id", ""), known)
        agent = self._agents.agents(subdomain, {agent_id: known[agent_id]})[agent_id]
        who = known[agent_id] or str(agent_id)
        action = form.get("action", "")
        if action == "availability":
            # The form always sends the return date and backup fields: they mean something with ooo only.
            ooo = " ".join(str(form.get("status", "")).lower().split()) in ("ooo", "out of office", "out-of-office")
            changed = status_change(agent, form.get("status", ""), now=now, known_ids=known,
                                    until=_given(form.get("until")) if ooo else None,
                                    backup=_given(form.get("backup")) if ooo else None)
            self._agents.change(subdomain, agent_id, {"status": changed.status, "ooo_from": changed.ooo_from,
                                                      "ooo_until": changed.ooo_until,
                                                      "backup_id": changed.backup_id}, now)
            text = f"{who} is now {changed.status}"
            if changed.ooo_until:
                text += f" until {changed.ooo_until}"
            if changed.backup_id is not None:
                text += f" (backup: {known[changed.backup_id] or changed.backup_id})"
            return text + self._told(subdomain, operator_notices(agent_id, changed, now))
        if action == "caps":
            caps = {"open_cap": _cap(form.get("open_cap")), "daily_cap": _cap(form.get("daily_cap"))}
            self._agents.change(subdomain, agent_id, caps, now)
            told = self._told(subdomain, [("agent_changed", {"agent_id": agent_id})])
            return f"{who}: open tickets {_cap_text(caps['open_cap'])}, tickets a day {_cap_text(caps['daily_cap'])}" \
                + told
        if action == "rotation":
            switch = form.get("in_rotation", "")
            if switch not in ("on", "off"):
                raise InvalidInputError(f"in rotation must be on or off, got {switch[:40]!r}")
            self._agents.change(subdomain, agent_id, {"in_rotation": switch == "on"}, now)
            return (f"{who} is {'in' if switch == 'on' else 'out of'} rotation"
                    + self._told(subdomain, [("agent_changed", {"agent_id": agent_id})]))
        raise InvalidInputError(f"unknown change {action[:40]!r}: availability, caps or rotation")

    def _told(self, subdomain: str, notices: Sequence[tuple[str, dict[str, Any]]]) -> str:
        """Announce a stored change; what the notice adds when the events queue did not take it."""
        return "" if self._announce(subdomain, notices) else NOT_ANNOUNCED


def _given(value: str | None) -> str | None:
    """A form field left empty is not given."""
    return value.strip() if value and value.strip() else None


def _cap(value: str | None) -> int | None:
    """A cap from a form: empty (the account's default) or what parse_cap accepts."""
    return parse_cap(_given(value))


def _cap_text(value: int | None) -> str:
    return "the account default" if value is None else str(value)


def _filters(asked: AgentsQuery, rosters: list[GroupRoster]) -> str:
    options = ['<option value="">All groups</option>'] + [
        f'<option value="{esc(r.group_id)}"{" selected" if r.group_id == asked.group else ""}>'
        f"{esc(r.group_name)}</option>" for r in rosters]
    return (f'<form method="get" action="{PATH}" class="filters">'
            f'<label>Name <input type="search" name="q" value="{esc(asked.name)}" maxlength="{MAX_FILTER}"></label> '
            f'<label>Group <select name="group">{"".join(options)}</select></label> '
            '<button type="submit">Filter</button></form>')


def _groups(rosters: list[GroupRoster], agents: Mapping[int, Agent]) -> str:
    rows = []
    for roster in rosters:
        next_agent = agents.get(roster.next_agent_id) if roster.next_agent_id is not None else None
        last = agents.get(roster.last_agent_id) if roster.last_agent_id is not None else None
        rows.append([
            f'<a href="{href(PATH, {"group": roster.group_id})}">{esc(roster.group_name)}</a>',
            str(len(roster.turns)), str(sum(t.eligible for t in roster.turns)),
            esc(next_agent.name) if next_agent else '<span class="bad">nobody may take a ticket now</span>',
            esc(last.name) if last else "-"])
    return "<h2>Groups</h2>" + table(["Group", "Agents", "Eligible now", "Next", "Assigned last"], rows,
                                     empty="No rosters yet: import the agents from Settings.")


def _agent_table(data: AccountAgents, asked: AgentsQuery, roster: GroupRoster | None) -> str:
    by_id = {a.id: a for a in data.agents}
    listed: list[tuple[RosterTurn | None, Agent]]
    needle = asked.name.casefold()
    if roster is not None:  # the group's roster in rotation order; eligibility for this group
        heading = f"{roster.group_name}: rotation order (turn 1 is next)"
        listed = [(t, by_id[t.agent_id]) for t in roster.turns if t.agent_id in by_id]
    else:
        heading = "All agents"
        listed = [(None, a) for a in data.agents]
    if needle:
        listed = [(t, a) for t, a in listed if needle in a.name.casefold()]
    pages = max(1, -(-len(listed) // PAGE_SIZE))
    page = min(asked.page, pages)
    shown = listed[(page - 1) * PAGE_SIZE:page * PAGE_SIZE]
    rows = []
    for turn, agent in shown:
        eligible = turn.eligible if turn else agent.eligible
        why = turn.why_not if turn else agent.why_not
        is_next = roster is not None and roster.next_agent_id == agent.id
        link = href(PATH, {"q": asked.name, "group": asked.group, "page": page, "agent": agent.id})
        rows.append([
            *([f"{turn.turn}{' <strong>next</strong>' if is_next else ''}"] if turn else []),
            f'<a href="{link}">{esc(agent.name)}</a> <span class="muted">{agent.id}</span>',
            esc(", ".join(agent.groups)) or "-",
            "yes" if agent.in_rotation else '<span class="bad">no</span>',
            f"{esc(agent.availability)} <span class=\"source\">({esc(agent.availability_source)})</span>",
            _absence(agent, data.known),
            _against(agent.open_count, agent.open_cap), _against(agent.daily_count, agent.daily_cap),
            "yes" if eligible else f'<span class="bad">no: {esc(why)}</span>',
            esc(when(agent.last_assigned_at))])
    headers = [*(["Turn"] if roster is not None else []), "Agent", "Groups", "In rotation", "Availability",
               "Out of office", "Open", "Today", "Eligible now", "Last assigned"]
    found = f"{len(listed)} agent{'s' if len(listed) != 1 else ''}"
    if asked.name:
        found += f" whose name contains \u201c{asked.name}\u201d"
    return (f"<h2>{esc(heading)}</h2><p>{esc(found)}</p>" + table(headers, rows, empty="No agent matches.")
            + _pages(asked, page, pages))


def _absence(agent: Agent, known: Mapping[int, str]) -> str:
    if agent.availability != "ooo":
        return "-"
    text = f"back {agent.return_date}" if agent.return_date else "until set otherwise"
    if agent.backup_id is not None:
        text += f"; backup {known.get(agent.backup_id) or agent.backup_id}"
    return esc(text)


def _against(count: int, cap: int | None) -> str:
    return str(count) if cap is None else f"{count} / {cap}"


def _pages(asked: AgentsQuery, page: int, pages: int) -> str:
    if pages == 1:
        return ""
    links = []
    if page > 1:
        links.append(f'<a rel="prev" href="{href(PATH, {"q": asked.name, "group": asked.group, "page": page - 1})}">'
                     "Previous</a>")
    links.append(f"Page {page} of {pages}")
    if page < pages:
        links.append(f'<a rel="next" href="{href(PATH, {"q": asked.name, "group": asked.group, "page": page + 1})}">'
                     "Next</a>")
    return f'<nav class="pager">{" ".join(links)}</nav>'


def _editor(agent: Agent, state: AgentState, known: Mapping[int, str], asked: AgentsQuery, csrf_token: str) -> str:
    """The three forms that change one agent (POST, with the session's CSRF token)."""
    def form(action: str, fields: str, button: str) -> str:
        keep = {"csrf_token": csrf_token, "agent_id": agent.id, "action": action, "q": asked.name,
                "group": asked.group, "page": asked.page}
        return (f'<form method="post" action="{PATH}" class="edit">{hidden(keep)}{fields}'
                f'<button type="submit">{esc(button)}</button></form>')

    statuses = "".join(f'<option value="{s}"{" selected" if s == agent.availability else ""}>{label}</option>'
                       for s, label in (("available", "available"), ("away", "away"), ("ooo", "out of office")))
    backups = '<option value="">(no backup)</option>' + "".join(
        f'<option value="{i}"{" selected" if i == agent.backup_id else ""}>{esc(name or i)}</option>'
        for i, name in sorted(known.items(), key=lambda kv: (kv[1] or UNKNOWN_NAME).casefold()) if i != agent.id)
    availability = form("availability", (
        f'<label>Status <select name="status">{statuses}</select></label> '
        f'<label>Back on <input type="date" name="until" value="{esc(agent.return_date or "")}"></label> '
        f'<label>Backup <select name="backup">{backups}</select></label> '), "Save availability")
    caps = form("caps", (
        f'<label>Open tickets at most <input name="open_cap" inputmode="numeric" size="5" '
        f'value="{"" if state.open_cap is None else state.open_cap}" placeholder="default"></label> '
        f'<label>Tickets a day at most <input name="daily_cap" inputmode="numeric" size="5" '
        f'value="{"" if state.daily_cap is None else state.daily_cap}" placeholder="default"></label> '),
        "Save caps")
    rotation = form("rotation", hidden({"in_rotation": "off" if agent.in_rotation else "on"}),
                    "Take out of rotation" if agent.in_rotation else "Put back in rotation")
    return (f'<section class="editor"><h2>Change {esc(agent.name)} <span class="muted">{agent.id}</span></h2>'
            f"{availability}{caps}{rotation}"
            "<p class=\"hint\">Back on: the first day back, in the agent's time zone. Caps: empty uses the "
            "account's default, 0 takes no tickets, none is no cap.</p></section>")
