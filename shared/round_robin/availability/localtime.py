"""Dates and midnights in a time zone, from epoch seconds (zoneinfo; right across DST changes)."""

from __future__ import annotations

import functools
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from round_robin.availability.errors import UnknownTimeZoneError


@functools.lru_cache(maxsize=256)
def zone(name: str) -> ZoneInfo:
    """The IANA time zone `name`; UnknownTimeZoneError when there is none."""
    if not name or name != name.strip() or name.startswith(("/", ".")) or ".." in name:
        raise UnknownTimeZoneError(name)
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError) as exc:  # OSError: a directory such as "America"
        raise UnknownTimeZoneError(name) from exc


def local_datetime(now: float, time_zone: str) -> datetime:
    """`now` as an aware datetime in `time_zone`."""
    return datetime.fromtimestamp(now, UTC).astimezone(zone(time_zone))


def local_date(now: float, time_zone: str) -> str:
    """The date ("YYYY-MM-DD") it is at `now` in `time_zone`."""
    return local_datetime(now, time_zone).date().isoformat()


def start_of_day(day: str, time_zone: str) -> float:
    """The instant `day` ("YYYY-MM-DD") begins in `time_zone`.

    Where a DST change skips midnight (America/Santiago, Asia/Beirut...), zoneinfo reads the missing 00:00 with the
    offset before the change, which is the instant the change happens: the first instant of that day.
    """
    return datetime.combine(date.fromisoformat(day), time(0), tzinfo=zone(time_zone)).timestamp()


def next_midnight(now: float, time_zone: str) -> float:
    """The start of the next local day after `now` in `time_zone`."""
    tomorrow = local_datetime(now, time_zone).date() + timedelta(days=1)
    return start_of_day(tomorrow.isoformat(), time_zone)


def utc_offset(now: float, time_zone: str) -> float:
    """Seconds east of UTC in `time_zone` at `now`."""
    offset = local_datetime(now, time_zone).utcoffset()
    return offset.total_seconds() if offset is not None else 0.0
