"""Working hours imported from Zendesk's business-hours schedules.

GET /api/v2/business_hours/schedules answers `schedules[].{id, name, time_zone, intervals[{start_time, end_time}]}`
(intervals in minutes since Sunday 00:00 local time, 0..10080; "The API accepts a value of 0 or 10080 to represent
midnight between Saturday and Sunday") and GET /api/v2/business_hours/schedules/{id}/holidays answers
`holidays[].{id, name, start_date, end_date}`, dates inclusive ("Holidays can be a single day or multiple days in
length"), both at developer.zendesk.com/api-reference/ticketing/ticket-management/schedules/. `time_zone` is a
Rails name ("Pacific Time (US & Canada)"), mapped to IANA with rails_zones.py.

Imported schedules are stored beside the ones an operator set by hand (`hours set`), with the id
`zendesk:<Zendesk's id>` and Zendesk's name: a re-import replaces them by that id and never touches the others.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from typing import Any

from round_robin.availability.errors import InvalidInputError, UnknownTimeZoneError
from round_robin.availability.localtime import zone
from round_robin.availability.model import Schedule
from round_robin.availability.rails_zones import RAILS_TO_IANA
from round_robin.availability.validation import parse_date

_WEEK_MINUTES = 7 * 24 * 60
IMPORTED_PREFIX = "zendesk:"  # the id of an imported schedule is this and Zendesk's id


def iana_zone(name: str) -> str:
    """The IANA id of a Zendesk (Rails) time-zone name; an IANA id is accepted as it is."""
    if name in RAILS_TO_IANA:
        return RAILS_TO_IANA[name]
    try:
        zone(name)
    except UnknownTimeZoneError:
        raise UnknownTimeZoneError(name) from None
    return name


def schedule_from_zendesk(
    schedule_json: Mapping[str, Any], holidays_json: Mapping[str, Any] | Iterable[Mapping[str, Any]] = (),
    *, group_ids: Iterable[str] = (), agent_ids: Iterable[int] = (),
) -> Schedule:
    """A Schedule from Zendesk's schedule object (or `{"schedule": ...}`) and its holidays response (or list)."""
    body = schedule_json.get("schedule", schedule_json)
    sid = str(body.get("id", "?"))
    name, time_zone = body.get("name"), body.get("time_zone")
    if not isinstance(name, str) or not isinstance(time_zone, str):
        raise InvalidInputError(f"schedule {sid}: name and time_zone are required")
    entries = holidays_json.get("holidays", []) if isinstance(holidays_json, Mapping) else holidays_json
    return Schedule(
        id=sid, name=name, time_zone=iana_zone(time_zone),
        intervals=tuple(sorted(_interval(sid, i) for i in body.get("intervals") or [])),
        holidays=tuple(sorted(_holiday(sid, h) for h in entries)),
        group_ids=tuple(str(g) for g in group_ids), agent_ids=tuple(agent_ids),
    )


def _interval(sid: str, interval: Mapping[str, Any]) -> tuple[int, int]:
    start, end = interval.get("start_time"), interval.get("end_time")
    if (not isinstance(start, int) or not isinstance(end, int) or isinstance(start, bool) or isinstance(end, bool)
            or not 0 <= start < end <= _WEEK_MINUTES):
        raise InvalidInputError(f"schedule {sid}: interval {start!r}-{end!r} is not within a week")
    return start, end


def _holiday(sid: str, holiday: Mapping[str, Any]) -> tuple[str, str]:
    start = parse_date(holiday.get("start_date"), f"schedule {sid}: holiday start_date")
    end = parse_date(holiday.get("end_date"), f"schedule {sid}: holiday end_date")
    if end < start:
        raise InvalidInputError(f"schedule {sid}: holiday ends ({end}) before it starts ({start})")
    return start, end


def imported_id(zendesk_id: object) -> str:
    """The stored id of the schedule imported from Zendesk's schedule `zendesk_id`."""
    return f"{IMPORTED_PREFIX}{zendesk_id}"


def is_imported(schedule: Schedule) -> bool:
    return schedule.id.startswith(IMPORTED_PREFIX)


def converted(schedule_json: Mapping[str, Any], holidays_json: Iterable[Mapping[str, Any]]) -> Schedule:
    """A Zendesk schedule and its holidays as an imported Schedule (applied to nobody yet); a time zone without an
    IANA equivalent is an InvalidInputError naming it and the schedule."""
    try:
        schedule = schedule_from_zendesk(schedule_json, holidays_json)
    except UnknownTimeZoneError as exc:
        raise InvalidInputError(f"Zendesk schedule {schedule_json.get('id')} ({str(schedule_json.get('name'))[:60]}): "
                                f"time zone {str(exc.name)[:80]!r} has no IANA equivalent") from None
    return replace(schedule, id=imported_id(schedule.id))


def merge_imported(stored: Sequence[Schedule], imported: Sequence[Schedule], *, complete: bool,
                   group_ids: Sequence[str] | None = None, agent_ids: Sequence[int] | None = None,
                   ) -> tuple[Schedule, ...]:
    """The schedules after an import: each imported one replaces the one stored with its id (keeping whom that one
    applied to, unless `group_ids`/`agent_ids` are given), new ones are added, hand-made ones stay; with
    `complete` (every schedule Zendesk has was read), imported ones Zendesk no longer has are dropped."""
    by_id = {s.id: s for s in stored}
    hand_made = {s.name for s in stored if not is_imported(s)}
    fresh: dict[str, Schedule] = {}
    for schedule in imported:
        if schedule.name in hand_made:
            raise InvalidInputError(f"hours {schedule.name!r} were set by hand: remove them (hours remove) or "
                                    "rename the Zendesk schedule, then import again")
        before = by_id.get(schedule.id)
        whom = ((tuple(group_ids or ()), tuple(agent_ids or ())) if group_ids or agent_ids
                else (before.group_ids, before.agent_ids) if before else ((), ()))
        fresh[schedule.id] = replace(schedule, group_ids=whom[0], agent_ids=whom[1])
    kept: list[Schedule] = []
    for schedule in stored:
        if schedule.id in fresh:
            kept.append(fresh.pop(schedule.id))
        elif not (complete and is_imported(schedule)):
            kept.append(schedule)
    return (*kept, *fresh.values())
