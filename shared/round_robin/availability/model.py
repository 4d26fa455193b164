"""The data of availability: an account's switches, one agent's state, working hours, and the verdict on an agent.

All frozen dataclasses, as stored; the rules live in rules.py and schedules.py.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

AVAILABLE, AWAY, OUT_OF_OFFICE = "available", "away", "ooo"
STATUSES = (AVAILABLE, AWAY, OUT_OF_OFFICE)
REASSIGN_POLICIES = ("off", "new", "open")  # what starting out of office reassigns: nothing, new tickets, new+open
TICKET_STATUSES = ("new", "open", "pending", "hold")  # the ones an open-ticket cap may count (never solved/closed)

# Zendesk's default unified statuses, by lower-case name (developer.zendesk.com/api-reference/agent-availability/
# unified-agent-status-api/introduction/): Online "Can receive work"; Away "Can only receive email tickets";
# Offline "Can't receive work"; Transfers Only "Can only receive work from other agents". Round robin hands out
# new tickets, so only online counts as available. Custom statuses are added per account; unknown names are away.
DEFAULT_STATUS_MAP: Mapping[str, str] = MappingProxyType({
    "online": AVAILABLE,
    "away": AWAY,
    "offline": AWAY,
    "transfers only": AWAY,
})


@dataclass(frozen=True)
class AccountPolicy:
    """The per-account switches and defaults."""

    own_status: bool = True  # follow the service's own status per agent
    zendesk_status: bool = False  # follow Zendesk's unified agent status
    # lower-case Zendesk status name (custom ones too) -> AVAILABLE or AWAY; unknown names are AWAY
    status_map: Mapping[str, str] = field(default_factory=lambda: DEFAULT_STATUS_MAP, hash=False)
    ooo_app: bool = False  # follow the Out of Office app's "Agent Out?" field
    working_hours: bool = True  # apply schedules when there are any
    reassign: str = "off"  # what starting out of office reassigns: off | new | open
    open_cap: int | None = None  # account default; None = no cap
    daily_cap: int | None = None
    counted_statuses: tuple[str, ...] = ("new", "open")
    waiting_alert_minutes: int = 30


@dataclass(frozen=True)
class AgentState:
    """One agent of one account, as stored."""

    id: int
    name: str
    in_rotation: bool = True
    status: str = AVAILABLE  # the service's own: AVAILABLE, AWAY, OUT_OF_OFFICE
    ooo_from: float | None = None  # epoch; None = from when it was set
    ooo_until: str | None = None  # "YYYY-MM-DD": back at the start of that day in the agent's time zone
    backup_id: int | None = None
    zendesk_status: str | None = None  # lower-case unified status name, None = unknown
    ooo_app: bool = False  # the "Agent Out?" field
    time_zone: str = "UTC"  # IANA
    open_cap: int | None = None  # per-agent override (None = the account default)
    daily_cap: int | None = None
    open_count: int = 0
    daily_count: int = 0
    daily_date: str | None = None  # "YYYY-MM-DD" in the agent's time zone that daily_count counts
    version: int = 0  # bumped by every change of the fields above except the counts
    last_assigned_at: float | None = None  # when the service last assigned them a ticket (never bumps `version`)


@dataclass(frozen=True)
class Schedule:
    """Working hours, as Zendesk's business hours: weekly intervals in one time zone, minus holidays."""

    id: str
    name: str
    time_zone: str  # IANA
    intervals: tuple[tuple[int, int], ...]  # minutes from Sunday 00:00 local time, [start, end)
    holidays: tuple[tuple[str, str], ...] = ()  # ("YYYY-MM-DD", "YYYY-MM-DD") inclusive, local dates
    group_ids: tuple[str, ...] = ()  # applied to these groups...
    agent_ids: tuple[int, ...] = ()  # ...and to these agents (an agent's own schedule wins over a group's)


@dataclass(frozen=True)
class Verdict:
    """Whether an agent may take a ticket now, the first reason why not, and when that may change by itself."""

    eligible: bool
    reason: str  # "eligible", "not_in_rotation", "away", "out_of_office", "zendesk_status", "ooo_app", "off_hours",
    #              "holiday", "open_cap", "daily_cap"
    source: str  # "", "rotation", "service", "zendesk", "ooo_app", "schedule", "capacity"
    detail: str  # human text for the CLI and console
    until: float | None = None  # when this verdict may change by itself (None: only by an event or an operator)
