"""The availability commands: an agent's own status, caps, the account's switches, and working hours.

Every input is checked (round_robin.availability.validation) before anything is written, so a mistake is one line
on stderr and changes nothing. Each change bumps the account's availability version: workers see it at their
next ticket. Each change is then announced on the events queue (an agent's change, the account's settings, an out
of office starting now), so that the service applies it at once (waiting tickets, reassignment); if that fails the
change stays stored, and the command says so in one line and exits 1.
"""

from __future__ import annotations

import argparse
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from round_robin import wiring
from round_robin.accounts.registry import Account
from round_robin.assignment.agent_overview import operator_notices
from round_robin.assignment.rotation import ACCOUNT_WIDE, Roster
from round_robin.availability.errors import InvalidInputError
from round_robin.availability.model import OUT_OF_OFFICE, AccountPolicy, Schedule
from round_robin.availability.validation import (
    parse_agent_id,
    parse_cap,
    parse_counted_statuses,
    parse_holidays,
    parse_minutes,
    parse_reassign,
    parse_status_map,
    parse_time_zone,
    parse_weekly_hours,
    status_change,
)
from round_robin.availability.zendesk_schedules import converted, merge_imported
from round_robin.aws.queue import EventMessage
from round_robin.errors import RoundRobinError, ZendeskNotFoundError
from round_robin.zendesk import business_hours
from round_robin_cli.commands import registered, zendesk_client
from round_robin_cli.errors import CliError
from round_robin_cli.output import Output, table

_DAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
_SWITCHES = {"on": True, "off": False}


def _now() -> float:
    return datetime.now(UTC).timestamp()


def _account(args: argparse.Namespace) -> tuple[Account, list[Roster]]:
    account = registered(args, args.subdomain)
    return account, wiring.rosters().list(account.subdomain)


def _known_agents(account: Account, rosters: list[Roster]) -> dict[int, str]:
    """Every agent of the account (roster members and excluded agents), id -> name ("" if unknown)."""
    names = {i: "" for i in account.excluded_agent_ids}
    names.update({m.id: m.name for r in rosters for m in r.members})
    return names


NOT_ANNOUNCED = "stored; the service will apply it at its next maintenance run"


def announce(subdomain: str, *changes: tuple[str, dict[str, Any]]) -> None:
    """Send each (kind, payload) to the events queue; a CliError saying the change is stored if it cannot."""
    now = _now()
    try:
        queue = wiring.event_queue()
        for kind, payload in changes:
            queue.send(EventMessage(subdomain=subdomain, kind=kind, received_at=now, payload=payload))
    except (RoundRobinError, BotoCoreError, ClientError) as exc:
        # Never undone: the change is right, only its prompt application is missing.
        raise CliError(f"{subdomain}: {NOT_ANNOUNCED} (the events queue could not be reached: {exc})") from exc


def _cap(value: int | None) -> str:
    return "none" if value is None else str(value)


def availability(args: argparse.Namespace) -> Output:
    account, rosters = _account(args)
    known = _known_agents(account, rosters)
    agent_id = parse_agent_id(args.agent_id, known)
    store, now = wiring.agent_store(), _now()
    agent = store.agents(account.subdomain, {agent_id: known[agent_id]})[agent_id]
    changed = status_change(agent, args.status, now=now, known_ids=known, until=args.until, backup=args.backup)
    store.change(account.subdomain, agent_id, {"status": changed.status, "ooo_from": changed.ooo_from,
                                               "ooo_until": changed.ooo_until, "backup_id": changed.backup_id}, now)
    announce(account.subdomain, *operator_notices(agent_id, changed, now))
    text = f"{account.subdomain}: {agent.name or agent_id} is {changed.status}"
    if changed.status == OUT_OF_OFFICE:
        text += f" until {changed.ooo_until}" if changed.ooo_until else " until set otherwise"
        if changed.backup_id is not None:
            text += f" (backup: {known[changed.backup_id] or changed.backup_id})"
    data = {"subdomain": account.subdomain, "agent_id": agent_id, "availability": changed.status,
            "until": changed.ooo_until, "backup_id": changed.backup_id}
    return Output(data, text)


def capacity(args: argparse.Namespace) -> Output:
    account, rosters = _account(args)
    asked = (("open_cap", args.open), ("daily_cap", args.daily))
    given: dict[str, Any] = {name: parse_cap(value) for name, value in asked if value is not None}
    now, agent_id = _now(), None
    if args.agent_id is not None:
        known = _known_agents(account, rosters)
        agent_id = parse_agent_id(args.agent_id, known)
        store = wiring.agent_store()
        if given:
            store.change(account.subdomain, agent_id, given, now)
            announce(account.subdomain, ("agent_changed", {"agent_id": agent_id}))
        agent = store.agents(account.subdomain, {agent_id: known[agent_id]})[agent_id]
        policy, _ = wiring.policies().get(account.subdomain)
        caps = {"open_cap": agent.open_cap, "daily_cap": agent.daily_cap}
        who = f"{agent.name or agent_id}"
        default = f" (account default: open {_cap(policy.open_cap)}, daily {_cap(policy.daily_cap)})"
    else:
        if given:
            policy, _ = wiring.policies().set(account.subdomain, lambda p, s: (replace(p, **given), s), now)
            announce(account.subdomain, ("settings_changed", {}))
        else:
            policy, _ = wiring.policies().get(account.subdomain)
        caps = {"open_cap": policy.open_cap, "daily_cap": policy.daily_cap}
        who, default = "account default", ""
    text = (f"{account.subdomain}: {who}: open tickets {_cap(caps['open_cap'])}, tickets a day "
            f"{_cap(caps['daily_cap'])}{default}")
    return Output({"subdomain": account.subdomain, "agent_id": agent_id, **caps}, text)


def settings(args: argparse.Namespace) -> Output:
    account, _ = _account(args)
    given: dict[str, Any] = {}
    if args.zendesk_status is not None:
        given["zendesk_status"] = _SWITCHES[args.zendesk_status]
    if args.ooo_app is not None:
        given["ooo_app"] = _SWITCHES[args.ooo_app]
    if args.reassign is not None:
        given["reassign"] = parse_reassign(args.reassign)
    if args.counted_statuses is not None:
        given["counted_statuses"] = parse_counted_statuses(args.counted_statuses.split(","))
    if args.waiting_alert_minutes is not None:
        given["waiting_alert_minutes"] = parse_minutes(args.waiting_alert_minutes)
    # Each --status is one Zendesk status (custom ones too) mapped over the stored map; the rest are kept.
    entries = args.status or []
    statuses = {k: v for k, v in parse_status_map(entries).items() if _named(k, entries)} if entries else {}

    def change(policy: AccountPolicy, schedules: tuple[Schedule, ...]) -> tuple[AccountPolicy, tuple[Schedule, ...]]:
        status_map = {**policy.status_map, **statuses} if statuses else policy.status_map
        return replace(policy, **given, status_map=status_map), schedules

    store = wiring.policies()
    policy, _ = store.set(account.subdomain, change, _now()) if given or statuses else store.get(account.subdomain)
    if given or statuses:
        announce(account.subdomain, ("settings_changed", {}))
    data = _settings(policy)
    rows = [{"setting": k, "value": v} for k, v in data.items()]
    return Output({"subdomain": account.subdomain, **data},
                  f"{account.subdomain}\n" + table(rows, ["setting", "value"]))


def _named(key: str, entries: Any) -> bool:
    """Whether one of the `name=value` entries names the (normalised) status `key`."""
    return any(" ".join(str(e).split("=", 1)[0].lower().split()) == key for e in entries)


def _settings(policy: AccountPolicy) -> dict[str, Any]:
    on = {True: "on", False: "off"}
    return {"zendesk_status": on[policy.zendesk_status], "ooo_app": on[policy.ooo_app], "reassign": policy.reassign,
            "open_cap": _cap(policy.open_cap), "daily_cap": _cap(policy.daily_cap),
            "counted_statuses": ",".join(policy.counted_statuses),
            "waiting_alert_minutes": policy.waiting_alert_minutes,
            "status_map": ", ".join(f"{name}={value}" for name, value in sorted(policy.status_map.items()))}


def hours(args: argparse.Namespace) -> Output:
    account, rosters = _account(args)
    if args.action == "list":
        if args.name or args.tz or args.weekly or args.holiday or args.groups or args.agents or args.only:
            raise CliError("hours list takes no name or options", 2)
        return _hours_list(account.subdomain, wiring.policies().get(account.subdomain)[1])
    if args.action == "import":
        return _hours_import(args, account, rosters)
    if args.only is not None:
        raise CliError("--only goes with hours import", 2)
    if not args.name:
        raise CliError(f"hours {args.action} needs the hours' name", 2)
    if args.action == "remove":
        def remove(policy: AccountPolicy, schedules: tuple[Schedule, ...]) -> tuple[AccountPolicy,
                                                                                     tuple[Schedule, ...]]:
            kept = tuple(s for s in schedules if args.name not in (s.id, s.name))
            if len(kept) == len(schedules):
                raise InvalidInputError(f"no hours named {args.name!r}; nothing changed")
            return policy, kept
        _, schedules = wiring.policies().set(account.subdomain, remove, _now())
        announce(account.subdomain, ("settings_changed", {}))
        return _hours_list(account.subdomain, schedules, f"{account.subdomain}: hours {args.name!r} removed")
    schedule = _schedule(args, account, rosters)

    def put(policy: AccountPolicy, schedules: tuple[Schedule, ...]) -> tuple[AccountPolicy, tuple[Schedule, ...]]:
        return policy, (*(s for s in schedules if s.id != schedule.id), schedule)
    _, stored = wiring.policies().set(account.subdomain, put, _now())
    announce(account.subdomain, ("settings_changed", {}))
    return _hours_list(account.subdomain, stored, f"{account.subdomain}: hours {schedule.name!r} set")


def _schedule(args: argparse.Namespace, account: Account, rosters: list[Roster]) -> Schedule:
    """The hours of `hours set`, every part checked."""
    if not args.tz or not args.weekly:
        raise CliError("hours set needs --tz and --weekly", 2)
    if not (args.groups or args.agents):
        raise CliError("hours set needs --groups or --agents (whom they apply to)", 2)
    group_ids, agent_ids = _whom(args, account, rosters)
    return Schedule(id=args.name, name=args.name, time_zone=parse_time_zone(args.tz),
                    intervals=parse_weekly_hours(args.weekly), holidays=parse_holidays(args.holiday or ()),
                    group_ids=group_ids, agent_ids=agent_ids)


def _whom(args: argparse.Namespace, account: Account, rosters: list[Roster]) -> tuple[tuple[str, ...],
                                                                                       tuple[int, ...]]:
    """The groups and agents of --groups and --agents, each one checked."""
    groups = {r.group_id for r in rosters if r.group_id != ACCOUNT_WIDE}
    unknown = [g for g in args.groups or () if g not in groups]
    if unknown:
        raise InvalidInputError(f"unknown group: {unknown[0][:40]}")
    known = _known_agents(account, rosters)
    return (tuple(dict.fromkeys(args.groups or ())),
            tuple(dict.fromkeys(parse_agent_id(a, known) for a in args.agents or ())))


def _hours_import(args: argparse.Namespace, account: Account, rosters: list[Roster]) -> Output:
    """`hours <sub> import [--only ID] [--groups/--agents]`: Zendesk's business-hours schedules, stored as hours
    named after them (zendesk_schedules.py); everything is read and checked before anything is stored."""
    if args.name or args.tz or args.weekly or args.holiday:
        raise CliError("hours import takes no name, --tz, --weekly or --holiday: they come from Zendesk", 2)
    only = None
    if args.only is not None:
        only = int(args.only) if args.only.isdigit() and int(args.only) > 0 else None
        if only is None:
            raise CliError(f"--only takes a Zendesk schedule id (a number), not {args.only[:40]!r}", 2)
    group_ids, agent_ids = _whom(args, account, rosters)
    client = zendesk_client(account.subdomain)
    if only is not None:
        try:
            found = [business_hours.schedule(client, only)]
        except ZendeskNotFoundError:
            raise InvalidInputError(f"{account.subdomain} has no Zendesk schedule {only}; nothing changed") from None
    else:
        found = business_hours.schedules(client)
    if (group_ids or agent_ids) and len(found) != 1:
        raise CliError("--groups and --agents apply to one schedule: give --only <Zendesk schedule id>", 2)
    imported = [converted(body, business_hours.holidays(client, int(body["id"]))) for body in found]

    def merge(policy: AccountPolicy, schedules: tuple[Schedule, ...]) -> tuple[AccountPolicy, tuple[Schedule, ...]]:
        return policy, merge_imported(schedules, imported, complete=only is None, group_ids=group_ids,
                                      agent_ids=agent_ids)
    _, stored = wiring.policies().set(account.subdomain, merge, _now())
    announce(account.subdomain, ("settings_changed", {}))  # hours that open now wake what waits for them
    names = ", ".join(repr(s.name) for s in imported) or "none (Zendesk has no schedules)"
    return _hours_list(account.subdomain, stored, f"{account.subdomain}: hours imported from Zendesk: {names}")


def _hours_list(subdomain: str, schedules: tuple[Schedule, ...], heading: str = "") -> Output:
    data = [{"name": s.name, "time_zone": s.time_zone, "weekly": weekly_text(s.intervals),
             "holidays": [a if a == b else f"{a}..{b}" for a, b in s.holidays], "groups": list(s.group_ids),
             "agents": list(s.agent_ids)} for s in schedules]
    text = table(data, ["name", "time_zone", "weekly", "holidays", "groups", "agents"]) if data else \
        f"{subdomain} has no working hours: every agent may take tickets at any time."
    return Output(data, f"{heading}\n{text}" if heading else text)


def weekly_text(intervals: tuple[tuple[int, int], ...]) -> str:
    """Zendesk's weekly intervals (minutes from Sunday) as "mon 09:00-17:00, tue 09:00-17:00"."""
    def clock(minutes: int) -> str:
        return f"{minutes // 60:02d}:{minutes % 60:02d}"
    return ", ".join(f"{_DAYS[start // 1440]} {clock(start % 1440)}-{clock(end - start // 1440 * 1440)}"
                     for start, end in intervals)
