"""Operator input for availability (validation.py): the stored form of good input, one line for each mistake."""

from datetime import datetime

import pytest

from round_robin.availability.errors import InvalidInputError, UnknownAgentError, UnknownTimeZoneError
from round_robin.availability.model import AVAILABLE, AWAY, OUT_OF_OFFICE, AgentState
from round_robin.availability.validation import (
    parse_agent_id,
    parse_cap,
    parse_counted_statuses,
    parse_date,
    parse_holidays,
    parse_reassign,
    parse_return_date,
    parse_status,
    parse_status_map,
    parse_time_zone,
    parse_weekly_hours,
    status_change,
)

NOW = datetime.fromisoformat("2026-11-22T12:00:00+00:00").timestamp()  # a Sunday
ADA = AgentState(7, "Ada", time_zone="Europe/Berlin")
AGENTS = {7, 8, 9}


def minute(day: int, hhmm: str) -> int:
    hours, minutes = hhmm.split(":")
    return day * 1440 + int(hours) * 60 + int(minutes)


BAD_INPUT = [
    (parse_time_zone, ("Mars/Olympus",), UnknownTimeZoneError, "unknown time zone: 'Mars/Olympus'"),
    (parse_time_zone, ("",), UnknownTimeZoneError, "unknown time zone: ''"),
    (parse_time_zone, ("America",), UnknownTimeZoneError, "unknown time zone: 'America'"),
    (parse_time_zone, ("../../etc/passwd",), UnknownTimeZoneError, "unknown time zone: '../../etc/passwd'"),
    (parse_time_zone, ("/etc/localtime",), UnknownTimeZoneError, "unknown time zone: '/etc/localtime'"),
    (parse_time_zone, ("Pacific Time (US & Canada)",), UnknownTimeZoneError,
     "unknown time zone: 'Pacific Time (US & Canada)'"),
    (parse_time_zone, (5,), InvalidInputError, "time zone must be an IANA name such as Europe/Berlin, got 5"),
    (parse_date, ("2026-13-01",), InvalidInputError, "date must be a date written YYYY-MM-DD, got '2026-13-01'"),
    (parse_date, ("20261201",), InvalidInputError, "date must be a date written YYYY-MM-DD, got '20261201'"),
    (parse_date, ("2026-W48-1",), InvalidInputError, "date must be a date written YYYY-MM-DD, got '2026-W48-1'"),
    (parse_return_date, ("2026-11-20", "Europe/Berlin", NOW), InvalidInputError,
     "return date 2026-11-20 is not after today (2026-11-22 in Europe/Berlin)"),
    (parse_return_date, ("2026-11-22", "Europe/Berlin", NOW), InvalidInputError,
     "return date 2026-11-22 is not after today (2026-11-22 in Europe/Berlin)"),
    (parse_return_date, ("next week", "Europe/Berlin", NOW), InvalidInputError,
     "return date must be a date written YYYY-MM-DD, got 'next week'"),
    (parse_return_date, ("2026-12-01", "Nowhere/City", NOW), UnknownTimeZoneError,
     "unknown time zone: 'Nowhere/City'"),
    (parse_cap, (-1,), InvalidInputError, "a cap must be a whole number of 0 or more, or none, got '-1'"),
    (parse_cap, ("-1",), InvalidInputError, "a cap must be a whole number of 0 or more, or none, got '-1'"),
    (parse_cap, ("2.5",), InvalidInputError, "a cap must be a whole number of 0 or more, or none, got '2.5'"),
    (parse_cap, (2.0,), InvalidInputError, "a cap must be a whole number of 0 or more, or none, got '2.0'"),
    (parse_cap, (True,), InvalidInputError, "a cap must be a whole number of 0 or more, or none, got 'True'"),
    (parse_cap, ("٣",), InvalidInputError, "a cap must be a whole number of 0 or more, or none, got '٣'"),
    (parse_reassign, ("sometimes",), InvalidInputError, "reassign must be one of off, new, open, got 'sometimes'"),
    (parse_status, ("busy",), InvalidInputError, "status must be one of available, away, ooo, got 'busy'"),
    (parse_status_map, ({"in a meeting": "busy"},), InvalidInputError,
     "Zendesk status 'in a meeting' must map to available or away, got 'busy'"),
    (parse_status_map, (["in a meeting"],), InvalidInputError,
     "a status mapping is written name=available or name=away, got 'in a meeting'"),
    (parse_status_map, (["=away"],), InvalidInputError, "a Zendesk status name is empty"),
    (parse_counted_statuses, (["open", "solved"],), InvalidInputError,
     "counted statuses must be some of new, open, pending, hold, got solved"),
    (parse_counted_statuses, ([],), InvalidInputError,
     "counted statuses must be some of new, open, pending, hold, got none"),
    (parse_weekly_hours, ("funday 09:00-17:00",), InvalidInputError,
     "weekly hours: 'funday' is not a day (sun, mon, tue, wed, thu, fri, sat)"),
    (parse_weekly_hours, ("mon 17:00-09:00",), InvalidInputError,
     "weekly hours: 17:00-09:00 ends before it starts (split hours at midnight)"),
    (parse_weekly_hours, ("mon 09:00-25:00",), InvalidInputError,
     "weekly hours: 25:00 is not a time of day (00:00 to 24:00)"),
    (parse_weekly_hours, ("mon 09:60-10:00",), InvalidInputError,
     "weekly hours: 09:60 is not a time of day (00:00 to 24:00)"),
    (parse_weekly_hours, ("09:00-17:00",), InvalidInputError,
     "weekly hours: cannot read '09:00-17:00' (e.g. \"mon-fri 09:00-17:00\")"),
    (parse_weekly_hours, ("mon sat 10:00-14:00",), InvalidInputError, "weekly hours: no times after mon"),
    (parse_weekly_hours, ("mon-fri 09:00-17:00 sat",), InvalidInputError,
     "weekly hours: give days and times, e.g. \"mon-fri 09:00-17:00\""),
    (parse_weekly_hours, ("",), InvalidInputError, "weekly hours: give days and times, e.g. \"mon-fri 09:00-17:00\""),
    (parse_holidays, ("2026-12-26..2026-12-24",), InvalidInputError,
     "holiday 2026-12-26..2026-12-24 ends before it starts"),
    (parse_holidays, ("xmas",), InvalidInputError, "holiday must be a date written YYYY-MM-DD, got 'xmas'"),
    (parse_agent_id, (99, AGENTS), UnknownAgentError, "unknown agent: 99"),
    (parse_agent_id, ("ben", AGENTS), UnknownAgentError, "unknown agent: ben"),
]


@pytest.mark.parametrize("parse, args, error, message", BAD_INPUT,
                         ids=[f"{p.__name__}-{i}" for i, (p, *_) in enumerate(BAD_INPUT)])
def test_bad_input_gets_one_line_naming_the_mistake(parse, args, error, message):
    with pytest.raises(error) as caught:
        parse(*args)
    assert str(caught.value) == message
    assert isinstance(caught.value, ValueError) and "\n" not in message


def test_good_input_comes_back_in_its_stored_form():
    assert parse_time_zone("Asia/Kolkata") == "Asia/Kolkata"
    assert parse_date(" 2026-12-01 ") == "2026-12-01"
    assert parse_return_date("2026-11-23", "Europe/Berlin", NOW) == "2026-11-23"
    assert [parse_cap(v) for v in (0, 5, "12", " 3 ", None, "none", "OFF")] == [0, 5, 12, 3, None, None, None]
    assert [parse_reassign(v) for v in ("off", "NEW", " open ")] == ["off", "new", "open"]
    assert [parse_status(v) for v in ("available", "Away", "ooo", "Out of  office", "out-of-office")] == [
        AVAILABLE, AWAY, OUT_OF_OFFICE, OUT_OF_OFFICE, OUT_OF_OFFICE]
    assert parse_counted_statuses(["Pending", "open", "new"]) == ("new", "open", "pending")


def test_the_return_date_must_be_after_today_where_the_agent_is():
    # 23:30 UTC on Sunday 11-22: already Monday 11-23 in Berlin, still Sunday evening in New York
    late = datetime.fromisoformat("2026-11-22T23:30:00+00:00").timestamp()
    with pytest.raises(InvalidInputError):
        parse_return_date("2026-11-23", "Europe/Berlin", late)
    assert parse_return_date("2026-11-23", "America/New_York", late) == "2026-11-23"


def test_the_status_map_adds_custom_zendesk_statuses_to_the_defaults():
    assert parse_status_map(["In a  Meeting=away", "Chat only = Available", "offline=available"]) == {
        "online": AVAILABLE, "away": AWAY, "offline": AVAILABLE, "transfers only": AWAY,
        "in a meeting": AWAY, "chat only": AVAILABLE}


def test_weekly_hours_become_zendesk_intervals_in_minutes_from_sunday():
    assert parse_weekly_hours("mon-fri 09:00-17:00") == tuple(
        (minute(d, "09:00"), minute(d, "17:00")) for d in range(1, 6))
    assert parse_weekly_hours(["mon 09:00-12:00 13:00-17:00", "sat 10:00-14:00"]) == (
        (minute(1, "09:00"), minute(1, "12:00")), (minute(1, "13:00"), minute(1, "17:00")),
        (minute(6, "10:00"), minute(6, "14:00")))
    assert parse_weekly_hours("mon,wed 8:00-10:00; sun 00:00-24:00") == (
        (0, 1440), (minute(1, "08:00"), minute(1, "10:00")), (minute(3, "08:00"), minute(3, "10:00")))


def test_weekly_hours_day_ranges_wrap_past_saturday_and_overlaps_merge():
    assert parse_weekly_hours("fri-mon 22:00-24:00") == (
        (minute(0, "22:00"), 1440 * 1), (minute(1, "22:00"), 1440 * 2),
        (minute(5, "22:00"), 1440 * 6), (minute(6, "22:00"), 1440 * 7))
    assert parse_weekly_hours("Monday 09:00-13:00, mon 12:00-17:00") == ((minute(1, "09:00"), minute(1, "17:00")),)


def test_holidays_are_single_days_or_inclusive_ranges():
    assert parse_holidays("2026-12-31, 2026-12-24..2026-12-26 2026-12-31") == (
        ("2026-12-24", "2026-12-26"), ("2026-12-31", "2026-12-31"))
    assert parse_holidays("") == ()


def test_setting_out_of_office_records_the_return_date_and_the_backup():
    changed = status_change(ADA, "ooo", now=NOW, known_ids=AGENTS, until="2026-12-01", backup="8")
    assert (changed.status, changed.ooo_until, changed.backup_id, changed.ooo_from, changed.version) == (
        OUT_OF_OFFICE, "2026-12-01", 8, None, 1)
    back = status_change(changed, "available", now=NOW, known_ids=AGENTS)
    assert (back.status, back.ooo_until, back.backup_id, back.version) == (AVAILABLE, None, None, 2)


def test_a_scheduled_out_of_office_returns_after_it_starts():
    starts = datetime.fromisoformat("2026-12-10T08:00:00+00:00").timestamp()
    with pytest.raises(InvalidInputError, match="return date 2026-12-01 is not after today"):
        status_change(ADA, "ooo", now=NOW, known_ids=AGENTS, until="2026-12-01", start=starts)
    assert status_change(ADA, "ooo", now=NOW, known_ids=AGENTS, until="2026-12-11", start=starts).ooo_from == starts


@pytest.mark.parametrize("kwargs, error, message", [
    ({"status": "ooo", "backup": 99}, UnknownAgentError, "unknown agent: 99"),
    ({"status": "ooo", "backup": 7}, InvalidInputError, "agent 7 cannot be their own backup"),
    ({"status": "ooo", "until": "2026-11-01"}, InvalidInputError,
     "return date 2026-11-01 is not after today (2026-11-22 in Europe/Berlin)"),
    ({"status": "away", "until": "2026-12-01"}, InvalidInputError,
     "a return date, a backup and a start go with ooo only"),
    ({"status": "gone"}, InvalidInputError, "status must be one of available, away, ooo, got 'gone'"),
])
def test_a_wrong_status_change_is_refused_as_a_whole_with_one_line(kwargs, error, message):
    status = kwargs.pop("status")
    with pytest.raises(error) as caught:
        status_change(ADA, status, now=NOW, known_ids=AGENTS, **kwargs)
    assert str(caught.value) == message
