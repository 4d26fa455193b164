"""Working hours (schedules.py): open or closed by the schedule's local wall time, right across DST changes."""

from datetime import UTC, datetime

from round_robin.availability.model import Schedule
from round_robin.availability.schedules import holiday_at, schedule_for, within_hours

SUN, MON, FRI, SAT = 0, 1, 5, 6
WEEK = 7 * 1440


def at(iso: str) -> float:
    return datetime.fromisoformat(iso).timestamp()


def minute(day: int, hhmm: str) -> int:
    hours, minutes = hhmm.split(":")
    return day * 1440 + int(hours) * 60 + int(minutes)


def hours(time_zone: str, *intervals: tuple[int, int], holidays=(), **kwargs) -> Schedule:
    return Schedule("s", "Support", time_zone, tuple(intervals), tuple(holidays), **kwargs)


def changes(schedule: Schedule, start: str, count: int) -> list[tuple[bool, str]]:
    """The schedule's state at `start` and at each of its next `count - 1` changes, as (open, UTC time)."""
    states, now = [], at(start)
    for _ in range(count):
        is_open, change = within_hours(schedule, now)
        states.append((is_open, datetime.fromtimestamp(now, UTC).replace(tzinfo=None).isoformat()))
        if change is None:
            break
        now = change
    return states


WEEKDAYS_9_TO_17 = [(minute(day, "09:00"), minute(day, "17:00")) for day in range(MON, SAT)]


def test_intervals_are_minutes_from_sunday_midnight_in_the_schedules_own_time_zone():
    tokyo = hours("Asia/Tokyo", *WEEKDAYS_9_TO_17)  # UTC+9, no DST
    assert within_hours(tokyo, at("2026-11-23T00:00:00+00:00")) == (True, at("2026-11-23T08:00:00+00:00"))
    assert within_hours(tokyo, at("2026-11-22T23:59:59+00:00")) == (False, at("2026-11-23T00:00:00+00:00"))


def test_the_start_is_open_and_the_end_is_closed():
    utc = hours("UTC", (minute(MON, "09:00"), minute(MON, "17:00")))
    assert within_hours(utc, at("2026-11-23T09:00:00+00:00"))[0]
    assert not within_hours(utc, at("2026-11-23T17:00:00+00:00"))[0]
    assert within_hours(utc, at("2026-11-23T16:59:59.5+00:00")) == (True, at("2026-11-23T17:00:00+00:00"))
    assert within_hours(utc, at("2026-11-23T08:59:59.123457+00:00")) == (False, at("2026-11-23T09:00:00+00:00"))


def test_a_schedule_without_intervals_never_opens_and_one_always_open_never_closes():
    assert within_hours(hours("UTC"), at("2026-11-23T09:00:00+00:00")) == (False, None)
    assert within_hours(hours("UTC", (0, WEEK)), at("2026-11-23T09:00:00+00:00")) == (True, None)


def test_an_always_open_schedule_closes_at_its_next_holiday_months_ahead():
    always_but_new_year = hours("Europe/Berlin", (0, WEEK), holidays=[("2027-01-01", "2027-01-01")])
    assert within_hours(always_but_new_year, at("2026-06-01T12:00:00+00:00")) == (
        True, at("2026-12-31T23:00:00+00:00"))


def test_hours_through_saturday_midnight_and_from_sunday_midnight_run_on():
    weekend = hours("UTC", (minute(SAT, "20:00"), WEEK), (0, minute(SUN, "04:00")))
    assert within_hours(weekend, at("2026-11-28T21:00:00+00:00")) == (True, at("2026-11-29T04:00:00+00:00"))


def test_a_holiday_closes_its_whole_local_days_inclusive():
    # Kolkata (UTC+5:30): the holiday 2026-12-24..25 runs from 2026-12-23 18:30 UTC to 2026-12-25 18:30 UTC
    kolkata = hours("Asia/Kolkata", (0, WEEK), holidays=[("2026-12-24", "2026-12-25")])
    assert changes(kolkata, "2026-12-23T12:00:00+00:00", 3) == [
        (True, "2026-12-23T12:00:00"), (False, "2026-12-23T18:30:00"), (True, "2026-12-25T18:30:00")]
    assert holiday_at(kolkata, at("2026-12-24T20:00:00+00:00")) == ("2026-12-24", "2026-12-25")
    assert holiday_at(kolkata, at("2026-12-25T18:30:00+00:00")) is None


def test_weekday_hours_stay_local_across_the_eu_change_to_winter_time():
    # Berlin leaves summer time on Sunday 2026-10-25 (03:00 CEST -> 02:00 CET): 09:00-17:00 local is 07:00-15:00
    # UTC on Friday 10-23 and 08:00-16:00 UTC on Monday 10-26
    berlin = hours("Europe/Berlin", *WEEKDAYS_9_TO_17)
    assert changes(berlin, "2026-10-23T07:00:00+00:00", 4) == [
        (True, "2026-10-23T07:00:00"), (False, "2026-10-23T15:00:00"),
        (True, "2026-10-26T08:00:00"), (False, "2026-10-26T16:00:00")]


def test_an_interval_inside_the_hour_skipped_in_spring_does_not_happen():
    # New York skips 02:00-03:00 on Sunday 2026-03-08: a Sunday 02:15-02:45 interval next happens a week later
    skipped = hours("America/New_York", (minute(SUN, "02:15"), minute(SUN, "02:45")))
    assert within_hours(skipped, at("2026-03-08T06:00:00+00:00")) == (False, at("2026-03-15T06:15:00+00:00"))


def test_an_interval_starting_in_the_skipped_hour_opens_when_the_clock_jumps():
    # Sunday 02:30-04:00: the clock jumps from 01:59:59 EST to 03:00 EDT (07:00 UTC), inside the interval
    partly = hours("America/New_York", (minute(SUN, "02:30"), minute(SUN, "04:00")))
    assert changes(partly, "2026-03-08T06:00:00+00:00", 3) == [
        (False, "2026-03-08T06:00:00"), (True, "2026-03-08T07:00:00"), (False, "2026-03-08T08:00:00")]


def test_the_hour_repeated_in_autumn_is_judged_by_its_wall_time_both_times():
    # New York repeats 01:00-02:00 on Sunday 2026-11-01: 01:00 EDT is 05:00 UTC, 01:00 EST is 06:00 UTC
    repeated = hours("America/New_York", (minute(SUN, "01:00"), minute(SUN, "01:30")))
    assert changes(repeated, "2026-11-01T04:00:00+00:00", 5) == [
        (False, "2026-11-01T04:00:00"), (True, "2026-11-01T05:00:00"), (False, "2026-11-01T05:30:00"),
        (True, "2026-11-01T06:00:00"), (False, "2026-11-01T06:30:00")]


def test_the_next_change_skips_a_long_holiday():
    summer_break = hours("Europe/Paris", *WEEKDAYS_9_TO_17, holidays=[("2026-08-01", "2026-08-23")])
    assert within_hours(summer_break, at("2026-07-31T15:00:00+00:00")) == (False, at("2026-08-24T07:00:00+00:00"))


def test_an_agents_own_schedule_wins_over_the_groups():
    group = hours("UTC", (0, 60), group_ids=("10",))
    own = hours("UTC", (60, 120), agent_ids=(7,))
    assert schedule_for(7, "10", [group, own]) is own
    assert schedule_for(8, "10", [group, own]) is group
    assert schedule_for(8, "11", [group, own]) is None


def test_the_account_wide_roster_follows_only_an_agents_own_schedule():
    group = hours("UTC", (0, 60), group_ids=("10",))
    own = hours("UTC", (60, 120), agent_ids=(7,))
    assert schedule_for(8, "*", [group, own]) is None
    assert schedule_for(7, "*", [group, own]) is own
