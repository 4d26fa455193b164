"""Working hours: is a schedule open at `now`, and when does that change next.

A schedule is read as Zendesk reads business hours (developer.zendesk.com/api-reference/ticketing/
ticket-management/schedules/): intervals are minutes from Sunday 00:00 in the schedule's own time zone, local wall
time, [start, end); a holiday closes its whole local day(s), start and end dates inclusive.

DST changes: the state at an instant depends only on the local wall time there. An interval (or part of one) that
falls into the hour a spring-forward change skips simply does not happen; the hour a fall-back change repeats is
judged by its wall time both times it passes (01:00-02:00 open means open through both). Weekday intervals such
as 09:00-17:00 are therefore always 09:00-17:00 local, whatever the UTC offset.

How the next change is found: between two UTC-offset changes the wall time moves with the clock, so the state can
only change where the wall time reaches an interval boundary or a local midnight (holidays), or at an offset change
itself (found by bisection). Those instants are the candidates; the first one whose state differs is the answer.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from datetime import date, timedelta

from round_robin.assignment.rotation import ACCOUNT_WIDE
from round_robin.availability.localtime import utc_offset
from round_robin.availability.model import Schedule

_DAY = 86_400
_WEEK = 7 * _DAY
_FIRST_SUNDAY = 3 * _DAY  # 1970-01-04: wall seconds since the epoch minus this, modulo a week, from Sunday 00:00
_WEEK_AND_A_DAY = 8  # weekly hours change within any week of wall time (a DST jump moves it by an hour at most)
_HORIZON_DAYS = 400  # past a year of holidays a schedule that never reopens has no next change


def schedule_for(agent_id: int, group_id: str, schedules: Sequence[Schedule]) -> Schedule | None:
    """The schedule that applies: the agent's own first, else the group's (for the account-wide roster, only own)."""
    own = next((s for s in schedules if agent_id in s.agent_ids), None)
    if own is not None or group_id == ACCOUNT_WIDE:
        return own
    return next((s for s in schedules if str(group_id) in s.group_ids), None)


def within_hours(schedule: Schedule, now: float) -> tuple[bool, float | None]:
    """Whether `schedule` is open at `now`, and the next instant that changes (None: never, within a year)."""
    is_open = _open_at(schedule, now)
    return is_open, _next_change(schedule, now, is_open)


def holiday_at(schedule: Schedule, now: float) -> tuple[str, str] | None:
    """The holiday (start, end dates) `now` falls in, in the schedule's time zone, if any."""
    return _holiday_on(schedule, _wall_date(_wall(schedule, now)))


def _wall(schedule: Schedule, t: float) -> float:
    """Local wall time at `t` as seconds since 1970-01-01 00:00 local."""
    return t + utc_offset(t, schedule.time_zone)


def _wall_date(wall: float) -> str:
    return (date(1970, 1, 1) + timedelta(days=math.floor(wall / _DAY))).isoformat()


def _holiday_on(schedule: Schedule, day: str) -> tuple[str, str] | None:
    return next(((start, end) for start, end in schedule.holidays if start <= day <= end), None)


def _open_at(schedule: Schedule, t: float) -> bool:
    wall = _wall(schedule, t)
    if _holiday_on(schedule, _wall_date(wall)):
        return False
    second_of_week = (wall - _FIRST_SUNDAY) % _WEEK
    return any(start * 60 <= second_of_week < end * 60 for start, end in schedule.intervals)


def _next_change(schedule: Schedule, now: float, is_open: bool) -> float | None:
    if not schedule.intervals:
        return None  # never open: holidays can only close
    start = now
    for _ in range(_horizon_days(schedule, now)):
        end = start + _DAY
        for t in _candidates(schedule, start, end):
            if t > now and _open_at(schedule, t) != is_open:
                return t
        start = end
    return None


def _horizon_days(schedule: Schedule, now: float) -> int:
    """How far to look: a week past the last holiday; beyond it the hours repeat every week."""
    last_holiday = max((end for _, end in schedule.holidays), default=None)
    if last_holiday is None:
        return _WEEK_AND_A_DAY
    today = date.fromisoformat(_wall_date(now))  # the UTC date: a day either way is within the week of slack
    days_left = (date.fromisoformat(last_holiday) - today).days + 1
    return min(_HORIZON_DAYS, max(days_left, 0) + _WEEK_AND_A_DAY)


def _candidates(schedule: Schedule, a: float, b: float) -> list[float]:
    """Every instant in (a, b] where the schedule's state may change (and possibly a few more)."""
    offset_a, offset_b = utc_offset(a, schedule.time_zone), utc_offset(b, schedule.time_zone)
    segments = [(a, b, offset_a)]
    found: set[float] = set()
    if offset_a != offset_b:  # at most one offset change a day, anywhere
        change = _offset_change(schedule.time_zone, a, b, offset_b)
        segments = [(a, change, offset_a), (change, b, offset_b)]
        found.add(change)
    residues = {_FIRST_SUNDAY + minute * 60 for interval in schedule.intervals for minute in interval}
    periods = [(r % _WEEK, _WEEK) for r in residues] + ([(0, _DAY)] if schedule.holidays else [])
    for seg_start, seg_end, offset in segments:
        for residue, period in periods:
            found.update(wall - offset for wall in _every(residue, period, seg_start + offset, seg_end + offset))
    return sorted(t for t in found if a < t <= b)


def _every(residue: int, period: int, lo: float, hi: float) -> Iterator[int]:
    """The whole numbers congruent to `residue` modulo `period` in [lo, hi], and perhaps one just below lo.

    Whole numbers, exactly: every boundary and every UTC offset is a whole number of seconds, so a candidate
    instant is never a rounding error before the boundary it stands for.
    """
    value = residue + period * math.floor((lo - residue) / period)
    while value <= hi:
        yield value
        value += period


def _offset_change(time_zone: str, a: float, b: float, offset_b: float) -> float:
    """The first whole second in (a, b] with offset `offset_b` (zones change offset on whole seconds)."""
    lo, hi = math.floor(a), math.ceil(b)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if utc_offset(mid, time_zone) == offset_b:
            hi = mid
        else:
            lo = mid
    return float(hi)
