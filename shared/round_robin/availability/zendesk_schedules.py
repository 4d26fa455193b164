"""Working hours imported from Zendesk's business-hours schedules.

GET /api/v2/business_hours/schedules answers `schedules[].{id, name, time_zone, intervals[{start_time, end_time}]}`
(intervals in minutes since Sunday 00:00 local time, 0..10080; "The API accepts a value of 0 or 10080 to represent
midnight between Saturday and Sunday") and GET /api/v2/business_hours/schedules/{id}/holidays answers
`holidays[].{id, name, start_date, end_date}`, dates inclusive ("Holidays can be a single day or multiple days in
length"), both at developer.zendesk.com/api-reference/ticketing/ticket-management/schedules/. `time_zone` is a
Rails name ("Pacific Time (US & Canada)"), mapped to IANA with rails_zones.py.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from round_robin.availability.errors import InvalidInputError, UnknownTimeZoneError
from round_robin.availability.localtime import zone
from round_robin.availability.model import Schedule
from round_robin.availability.rails_zones import RAILS_TO_IANA
from round_robin.availability.validation import parse_date

_WEEK_MINUTES = 7 * 24 * 60


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
