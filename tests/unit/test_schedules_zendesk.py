"""Working hours imported from Zendesk's business-hours schedules (zendesk_schedules.py, rails_zones.py).

Shapes from developer.zendesk.com/api-reference/ticketing/ticket-management/schedules/: List Schedules and List
Holidays for a Schedule.
"""

from datetime import datetime

import pytest

from round_robin.availability.errors import InvalidInputError, UnknownTimeZoneError
from round_robin.availability.localtime import zone
from round_robin.availability.model import Schedule
from round_robin.availability.rails_zones import RAILS_TO_IANA
from round_robin.availability.schedules import within_hours
from round_robin.availability.zendesk_schedules import iana_zone, schedule_from_zendesk

# Monday, Tuesday and Thursday 09:00-17:00 in the documented shape (listed out of order on purpose)
NORTH_AMERICA = {
    "id": 1, "name": "North America", "time_zone": "Pacific Time (US & Canada)",
    "created_at": "2015-09-09T22:37:58Z", "updated_at": "2015-09-10T19:09:52Z",
    "intervals": [{"start_time": 6300, "end_time": 6780}, {"start_time": 3420, "end_time": 3900},
                  {"start_time": 1980, "end_time": 2460}],
}
HOLIDAYS = {"holidays": [
    {"id": 2, "name": "Thanksgiving", "start_date": "2026-11-26", "end_date": "2026-11-27"},
    {"id": 1, "name": "New Year's Day", "start_date": "2026-01-01", "end_date": "2026-01-01"},
]}


def test_a_zendesk_schedule_becomes_working_hours_in_its_iana_zone():
    schedule = schedule_from_zendesk(NORTH_AMERICA, HOLIDAYS, group_ids=[360001], agent_ids=[7])
    assert schedule == Schedule(
        id="1", name="North America", time_zone="America/Los_Angeles",
        intervals=((1980, 2460), (3420, 3900), (6300, 6780)),
        holidays=(("2026-01-01", "2026-01-01"), ("2026-11-26", "2026-11-27")),
        group_ids=("360001",), agent_ids=(7,))


def test_an_imported_schedule_opens_at_09_00_pacific_and_closes_for_its_holidays():
    schedule = schedule_from_zendesk({"schedule": NORTH_AMERICA}, HOLIDAYS["holidays"])
    monday_9am_pst = datetime.fromisoformat("2026-11-23T17:00:00+00:00").timestamp()
    assert within_hours(schedule, monday_9am_pst) == (True, monday_9am_pst + 8 * 3600)
    a_thursday_10am_pst = datetime.fromisoformat("2026-11-19T18:00:00+00:00").timestamp()
    assert within_hours(schedule, a_thursday_10am_pst)[0]
    # Thanksgiving (Thursday 11-26 and Friday 11-27) is closed; the next opening is Monday 09:00 PST
    thanksgiving_10am_pst = a_thursday_10am_pst + 7 * 86400
    assert within_hours(schedule, thanksgiving_10am_pst) == (
        False, datetime.fromisoformat("2026-11-30T17:00:00+00:00").timestamp())


def test_a_schedule_without_holidays_imports_without_them():
    assert schedule_from_zendesk(NORTH_AMERICA).holidays == ()


@pytest.mark.parametrize("name, iana", [
    ("Eastern Time (US & Canada)", "America/New_York"),
    ("Pacific Time (US & Canada)", "America/Los_Angeles"),
    ("London", "Europe/London"),
    ("Berlin", "Europe/Berlin"),
    ("New Delhi", "Asia/Kolkata"),
    ("Kyiv", "Europe/Kiev"),
    ("Nuku'alofa", "Pacific/Tongatapu"),
    ("UTC", "Etc/UTC"),
    ("America/New_York", "America/New_York"),  # some accounts already answer IANA ids
])
def test_zendesk_time_zone_names_map_to_iana_ids(name, iana):
    assert iana_zone(name) == iana


def test_every_name_of_the_table_resolves_to_a_time_zone_of_this_system():
    unresolved = []
    for name, iana in RAILS_TO_IANA.items():
        try:
            zone(iana)
        except UnknownTimeZoneError:
            unresolved.append(name)
    assert unresolved == []
    assert len(set(RAILS_TO_IANA)) == len(RAILS_TO_IANA) > 140


@pytest.mark.parametrize("schedule, holidays, error, message", [
    ({**NORTH_AMERICA, "time_zone": "Atlantis"}, (), UnknownTimeZoneError, "unknown time zone: 'Atlantis'"),
    ({**NORTH_AMERICA, "time_zone": "eastern time (us & canada)"}, (), UnknownTimeZoneError,
     "unknown time zone: 'eastern time (us & canada)'"),
    ({"id": 5, "name": "No zone", "intervals": []}, (), InvalidInputError,
     "schedule 5: name and time_zone are required"),
    ({**NORTH_AMERICA, "intervals": [{"start_time": 10000, "end_time": 10100}]}, (), InvalidInputError,
     "schedule 1: interval 10000-10100 is not within a week"),
    ({**NORTH_AMERICA, "intervals": [{"start_time": 600, "end_time": 600}]}, (), InvalidInputError,
     "schedule 1: interval 600-600 is not within a week"),
    ({**NORTH_AMERICA, "intervals": [{"start_time": "540", "end_time": 1020}]}, (), InvalidInputError,
     "schedule 1: interval '540'-1020 is not within a week"),
    (NORTH_AMERICA, [{"start_date": "2026-12-26", "end_date": "2026-12-24"}], InvalidInputError,
     "schedule 1: holiday ends (2026-12-24) before it starts (2026-12-26)"),
    (NORTH_AMERICA, [{"start_time": "2026-12-26", "end_time": "2026-12-26"}], InvalidInputError,
     "schedule 1: holiday start_date must be a date written YYYY-MM-DD, got 'None'"),
])
def test_a_schedule_zendesk_could_not_have_sent_is_refused_with_one_line(schedule, holidays, error, message):
    with pytest.raises(error) as caught:
        schedule_from_zendesk(schedule, holidays)
    assert str(caught.value) == message
