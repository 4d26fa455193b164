"""A simulated week across three time zones: New York (leaving summer time on Sunday 2026-11-01, with Election Day
2026-11-03 as a holiday), Berlin (already on winter time; out of office on Thursday) and Kolkata (no DST, Saturday
mornings too). Every 15 minutes, each agent's verdict is checked against windows computed by hand in UTC.
"""

from datetime import UTC, datetime, timedelta

from round_robin.availability.model import OUT_OF_OFFICE, AccountPolicy, AgentState, Schedule
from round_robin.availability.rules import eligibility
from round_robin.availability.validation import parse_holidays, parse_weekly_hours


def at(iso: str) -> float:
    return datetime.fromisoformat(iso + "+00:00").timestamp()


NINA = AgentState(1, "Nina", time_zone="America/New_York")
BERND = AgentState(2, "Bernd", time_zone="Europe/Berlin", status=OUT_OF_OFFICE,
                   ooo_from=at("2026-10-28T23:00"), ooo_until="2026-10-30", backup_id=3)  # all of Thursday, Berlin
KIRAN = AgentState(3, "Kiran", time_zone="Asia/Kolkata")

SCHEDULES = [
    Schedule("ny", "New York", "America/New_York", parse_weekly_hours("mon-fri 09:00-17:00"),
             parse_holidays("2026-11-03"), agent_ids=(1,)),
    Schedule("de", "Berlin", "Europe/Berlin", parse_weekly_hours("mon-fri 09:00-17:00"), agent_ids=(2,)),
    Schedule("in", "Kolkata", "Asia/Kolkata", parse_weekly_hours(["mon-fri 10:00-18:00", "sat 10:00-14:00"]),
             agent_ids=(3,)),
]

# Hand-computed, in UTC. New York is UTC-4 until 2026-11-01 06:00 UTC, then UTC-5; Berlin UTC+1; Kolkata UTC+5:30.
OPEN = {
    "Nina": [("2026-10-29T13:00", "2026-10-29T21:00"), ("2026-10-30T13:00", "2026-10-30T21:00"),
             ("2026-11-02T14:00", "2026-11-02T22:00"),  # Tuesday 11-03 is a holiday
             ("2026-11-04T14:00", "2026-11-04T22:00"), ("2026-11-05T14:00", "2026-11-05T22:00")],
    "Bernd": [("2026-10-30T08:00", "2026-10-30T16:00"), ("2026-11-02T08:00", "2026-11-02T16:00"),
              ("2026-11-03T08:00", "2026-11-03T16:00"), ("2026-11-04T08:00", "2026-11-04T16:00"),
              ("2026-11-05T08:00", "2026-11-05T16:00")],
    "Kiran": [("2026-10-29T04:30", "2026-10-29T12:30"), ("2026-10-30T04:30", "2026-10-30T12:30"),
              ("2026-10-31T04:30", "2026-10-31T08:30"),  # Saturday 10:00-14:00 in Kolkata
              ("2026-11-02T04:30", "2026-11-02T12:30"), ("2026-11-03T04:30", "2026-11-03T12:30"),
              ("2026-11-04T04:30", "2026-11-04T12:30"), ("2026-11-05T04:30", "2026-11-05T12:30")],
}
HOLIDAY = {"Nina": ("2026-11-03T05:00", "2026-11-04T05:00")}  # Election Day, midnight to midnight in New York
OUT = {"Bernd": ("2026-10-28T23:00", "2026-10-29T23:00")}  # back at midnight in Berlin on his return date


def expected(name: str, now: float) -> tuple[bool, str, float]:
    """(eligible, reason, until) from the tables above."""
    out = OUT.get(name)
    if out and at(out[0]) <= now < at(out[1]):
        return False, "out_of_office", at(out[1])
    for start, end in OPEN[name]:
        if at(start) <= now < at(end):
            return True, "eligible", at(end)
        if now < at(start):
            holiday = HOLIDAY.get(name)
            on_holiday = holiday is not None and at(holiday[0]) <= now < at(holiday[1])
            return False, "holiday" if on_holiday else "off_hours", at(start)
    raise AssertionError("the tables end too early")


def test_a_week_every_15_minutes_across_new_york_berlin_and_kolkata():
    start = datetime(2026, 10, 29, tzinfo=UTC)  # Thursday
    quarters = [(start + timedelta(minutes=15 * i)).timestamp() for i in range(7 * 24 * 4)]
    mismatches, eligible = [], {"Nina": 0, "Bernd": 0, "Kiran": 0}
    for now in quarters:
        for agent in (NINA, BERND, KIRAN):
            v = eligibility(agent, AccountPolicy(), SCHEDULES, "10", now)
            if (v.eligible, v.reason, v.until) != expected(agent.name, now):
                mismatches.append((agent.name, datetime.fromtimestamp(now, UTC).isoformat(), v))
            eligible[agent.name] += v.eligible
    assert mismatches == []
    # 8 hours = 32 quarters a working day: Nina Thu, Fri, Mon, Wed; Bernd Fri, Mon, Tue, Wed; Kiran 5 days + Sat 4 h
    assert eligible == {"Nina": 4 * 32, "Bernd": 4 * 32, "Kiran": 5 * 32 + 16}
