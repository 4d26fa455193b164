"""Operator input for availability, checked before anything changes: each mistake is one InvalidInputError line.

Used by the command line and the console; the parse functions return the stored form.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Mapping
from dataclasses import replace
from datetime import date

from round_robin.availability.errors import InvalidInputError, UnknownAgentError
from round_robin.availability.localtime import local_date, zone
from round_robin.availability.model import (
    AVAILABLE,
    AWAY,
    DEFAULT_STATUS_MAP,
    OUT_OF_OFFICE,
    REASSIGN_POLICIES,
    STATUSES,
    TICKET_STATUSES,
    AgentState,
)

_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_DAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")  # Sunday first, as Zendesk's minutes of the week
_FULL_DAYS = ("sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday")
_DAY_LIST = re.compile(r"[a-z]{3}[a-z]*(-[a-z]{3}[a-z]*)?(,[a-z]{3}[a-z]*(-[a-z]{3}[a-z]*)?)*")
_TIME_RANGE = re.compile(r"(\d{1,2}):(\d{2})-(\d{1,2}):(\d{2})")
_STATUS_WORDS = {"available": AVAILABLE, "away": AWAY, "ooo": OUT_OF_OFFICE, "out of office": OUT_OF_OFFICE,
                 "out-of-office": OUT_OF_OFFICE}
_NO_CAP = {"none", "off", "no"}


def parse_time_zone(name: object) -> str:
    """An IANA time-zone name, as given."""
    if not isinstance(name, str):
        raise InvalidInputError(f"time zone must be an IANA name such as Europe/Berlin, got {name!r}")
    zone(name)
    return name


def parse_date(value: object, what: str = "date") -> str:
    """A calendar date written YYYY-MM-DD."""
    text = value.strip() if isinstance(value, str) else ""
    try:
        if _DATE.fullmatch(text):
            return date.fromisoformat(text).isoformat()
    except ValueError:
        pass
    raise InvalidInputError(f"{what} must be a date written YYYY-MM-DD, got {str(value)[:40]!r}")


def parse_return_date(value: object, time_zone: str, now: float) -> str:
    """The first day back from out of office: a date after today in the agent's time zone."""
    day = parse_date(value, "return date")
    today = local_date(now, time_zone)
    if day <= today:
        raise InvalidInputError(f"return date {day} is not after today ({today} in {time_zone})")
    return day


def parse_cap(value: object) -> int | None:
    """A cap: a non-negative whole number, or None / "none" / "off" for no cap."""
    if value is None or (isinstance(value, str) and value.strip().lower() in _NO_CAP):
        return None
    if isinstance(value, str) and value.strip().isascii() and value.strip().isdigit():
        return int(value.strip())
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    raise InvalidInputError(f"a cap must be a whole number of 0 or more, or none, got {str(value)[:40]!r}")


MAX_WAITING_ALERT_MINUTES = 7 * 24 * 60


def parse_minutes(value: object) -> int:
    """A waiting alert threshold: whole minutes, 1 to a week."""
    text = str(value).strip()
    if not (text.isascii() and text.isdigit()) or not 1 <= int(text) <= MAX_WAITING_ALERT_MINUTES:
        raise InvalidInputError(f"minutes must be a whole number from 1 to {MAX_WAITING_ALERT_MINUTES}, got "
                                f"{text[:40]!r}")
    return int(text)


def parse_reassign(value: object) -> str:
    """What going out of office reassigns: off, new or open."""
    text = value.strip().lower() if isinstance(value, str) else value
    if text not in REASSIGN_POLICIES:
        raise InvalidInputError(f"reassign must be one of off, new, open, got {str(value)[:40]!r}")
    return str(text)


def parse_status(value: object) -> str:
    """The service's own status of an agent: available, away or ooo ("out of office")."""
    text = " ".join(value.lower().split()) if isinstance(value, str) else ""
    if text not in _STATUS_WORDS:
        raise InvalidInputError(f"status must be one of {', '.join(STATUSES)}, got {str(value)[:40]!r}")
    return _STATUS_WORDS[text]


def parse_status_map(entries: Mapping[str, str] | Iterable[str]) -> dict[str, str]:
    """Zendesk status names (custom ones too) to available or away, over the default map.

    Accepts a mapping or "name=value" strings, e.g. ["In a meeting=away", "Chat only=available"].
    """
    pairs = entries.items() if isinstance(entries, Mapping) else (_pair(entry) for entry in entries)
    result = dict(DEFAULT_STATUS_MAP)
    for name, value in pairs:
        key = " ".join(str(name).lower().split())
        if not key:
            raise InvalidInputError("a Zendesk status name is empty")
        if value not in (AVAILABLE, AWAY):
            raise InvalidInputError(f"Zendesk status {key!r} must map to available or away, got {str(value)[:40]!r}")
        result[key] = value
    return result


def parse_counted_statuses(values: Iterable[str]) -> tuple[str, ...]:
    """The ticket statuses an open-ticket cap counts: some of new, open, pending, hold."""
    given = {str(v).strip().lower() for v in values}
    unknown = sorted(given - set(TICKET_STATUSES))
    if unknown or not given:
        raise InvalidInputError(f"counted statuses must be some of {', '.join(TICKET_STATUSES)}, got "
                                f"{', '.join(unknown) or 'none'}")
    return tuple(s for s in TICKET_STATUSES if s in given)


def parse_weekly_hours(specs: str | Iterable[str]) -> tuple[tuple[int, int], ...]:
    """Weekly hours such as "mon-fri 09:00-17:00" and "sat 10:00-14:00" as Zendesk's intervals (minutes from Sunday).

    Days: sun..sat, ranges (fri-mon wraps) and lists (mon,wed); several times per day ("mon 09:00-12:00 13:00-17:00");
    several specs separated by ";" or ", ". End 24:00 is midnight; hours past midnight take a spec of their own.
    """
    text = specs if isinstance(specs, str) else " ; ".join(specs)
    tokens = [t for t in re.split(r"[\s;]+|,\s+", text.strip().lower()) if t]
    intervals: list[tuple[int, int]] = []
    days: list[int] | None = None
    hours_for_days = 0
    for token in tokens:
        if _DAY_LIST.fullmatch(token):
            if days is not None and not hours_for_days:
                raise InvalidInputError(f"weekly hours: no times after {_day_names(days)}")
            days, hours_for_days = _parse_days(token), 0
        elif (match := _TIME_RANGE.fullmatch(token)) and days is not None:
            start, end = _minutes(match.group(1), match.group(2)), _minutes(match.group(3), match.group(4))
            if end <= start:
                raise InvalidInputError(f"weekly hours: {token} ends before it starts (split hours at midnight)")
            intervals.extend((day * 1440 + start, day * 1440 + end) for day in days)
            hours_for_days += 1
        else:
            raise InvalidInputError(f"weekly hours: cannot read {token[:40]!r} (e.g. \"mon-fri 09:00-17:00\")")
    if days is None or not hours_for_days:
        raise InvalidInputError("weekly hours: give days and times, e.g. \"mon-fri 09:00-17:00\"")
    return _merged(intervals)


def parse_holidays(specs: str | Iterable[str]) -> tuple[tuple[str, str], ...]:
    """Holidays such as "2026-12-25" or "2026-12-24..2026-12-26" (inclusive), separated by spaces or commas."""
    text = specs if isinstance(specs, str) else " ".join(specs)
    holidays = []
    for token in re.split(r"[\s,;]+", text.strip()):
        if not token:
            continue
        first, _, last = token.partition("..")
        start, end = parse_date(first, "holiday"), parse_date(last or first, "holiday")
        if end < start:
            raise InvalidInputError(f"holiday {token} ends before it starts")
        holidays.append((start, end))
    return tuple(sorted(set(holidays)))


def parse_agent_id(value: object, known_ids: Collection[int]) -> int:
    """The id of one of the account's agents."""
    text = str(value).strip()
    if not (text.isascii() and text.isdigit()) or int(text) not in known_ids:
        raise UnknownAgentError(text[:40])
    return int(text)


def status_change(
    agent: AgentState, status: str, *, now: float, known_ids: Collection[int], until: str | None = None,
    backup: object = None, start: float | None = None,
) -> AgentState:
    """The agent with their own status set, every part checked first (raises and changes nothing on a mistake).

    `until` (the return date) and `backup` go only with out of office; `start` (epoch) schedules it.
    """
    new_status = parse_status(status)
    if new_status != OUT_OF_OFFICE and (until is not None or backup is not None or start is not None):
        raise InvalidInputError("a return date, a backup and a start go with ooo only")
    return_date = parse_return_date(until, agent.time_zone, max(now, start or now)) if until is not None else None
    backup_id = parse_agent_id(backup, known_ids) if backup is not None else None
    if backup_id == agent.id:
        raise InvalidInputError(f"agent {agent.id} cannot be their own backup")
    return replace(agent, status=new_status, ooo_from=start, ooo_until=return_date, backup_id=backup_id,
                   version=agent.version + 1)


def _pair(entry: str) -> tuple[str, str]:
    name, sep, value = entry.rpartition("=")
    if not sep:
        raise InvalidInputError(f"a status mapping is written name=available or name=away, got {entry[:40]!r}")
    return name, value.strip().lower()


def _parse_days(token: str) -> list[int]:
    days: list[int] = []
    for part in token.split(","):
        first, _, last = part.partition("-")
        a, b = _day(first), _day(last or first)
        days.extend((a + i) % 7 for i in range((b - a) % 7 + 1))
    return sorted(set(days))


def _day(word: str) -> int:
    for index, full in enumerate(_FULL_DAYS):
        if len(word) >= 3 and full.startswith(word):
            return index
    raise InvalidInputError(f"weekly hours: {word[:20]!r} is not a day (sun, mon, tue, wed, thu, fri, sat)")


def _day_names(days: list[int]) -> str:
    return ",".join(_DAYS[d] for d in days)


def _minutes(hours: str, minutes: str) -> int:
    value = int(hours) * 60 + int(minutes)
    if int(minutes) > 59 or value > 1440:
        raise InvalidInputError(f"weekly hours: {hours}:{minutes} is not a time of day (00:00 to 24:00)")
    return value


def _merged(intervals: list[tuple[int, int]]) -> tuple[tuple[int, int], ...]:
    merged: list[tuple[int, int]] = []
    for start, end in sorted(intervals):
        if merged and start < merged[-1][1]:  # overlapping (not merely touching): one interval
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return tuple(merged)
