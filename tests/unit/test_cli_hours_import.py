"""`round-robin hours <sub> import` in-process on the `acme` account of test_cli_commands.py (moto in-process),
Zendesk's business-hours API through `responses` in the documented shapes
(developer.zendesk.com/api-reference/ticketing/ticket-management/schedules/): what is stored, that a re-import
replaces only what was imported, and the mistakes refused with one line and nothing stored."""

from __future__ import annotations

import json

import pytest
import responses

from round_robin import wiring
from round_robin.availability.model import Schedule
from tests.unit.test_cli_availability import announced, refused
from tests.unit.test_cli_commands import acme, run  # noqa: F401 (the fixture)

API = "https://acme.zendesk.com/api/v2/business_hours/schedules"
# Monday to Friday 09:00-17:00 in Berlin's zone, by its Rails name; and a Saturday morning in New York's
BERLIN = {"id": 41, "name": "Europe", "time_zone": "Berlin",
          "intervals": [{"start_time": d * 1440 + 540, "end_time": d * 1440 + 1020} for d in range(1, 6)]}
NEW_YORK = {"id": 42, "name": "Americas", "time_zone": "Eastern Time (US & Canada)",
            "intervals": [{"start_time": 6 * 1440 + 600, "end_time": 6 * 1440 + 840}]}
CHRISTMAS = {"id": 7, "name": "Christmas", "start_date": "2026-12-24", "end_date": "2026-12-26"}


def schedules() -> tuple[Schedule, ...]:
    return wiring.policies().get("acme")[1]


def zendesk_has(mock: responses.RequestsMock, *found: dict, holidays: dict[int, list] | None = None) -> None:
    mock.get(f"{API}.json", json={"schedules": list(found)})
    for body in found:
        mock.get(f"{API}/{body['id']}.json", json={"schedule": body})
        mock.get(f"{API}/{body['id']}/holidays.json", json={"holidays": (holidays or {}).get(body["id"], [])})


def test_every_zendesk_schedule_is_stored_with_its_iana_zone_and_holidays(capsys, acme):  # noqa: F811
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        zendesk_has(mock, BERLIN, NEW_YORK, holidays={41: [CHRISTMAS]})
        code, out, err = run(capsys, "hours", "acme", "import", "--json")

    assert code == 0, err
    europe, americas = schedules()
    assert (europe.id, europe.name, europe.time_zone) == ("zendesk:41", "Europe", "Europe/Berlin")
    assert europe.intervals[0] == (1980, 2460) and europe.holidays == (("2026-12-24", "2026-12-26"),)
    assert (americas.id, americas.time_zone, americas.group_ids) == ("zendesk:42", "America/New_York", ())
    assert [h["name"] for h in json.loads(out)] == ["Europe", "Americas"]
    assert announced() == [("acme", "settings_changed", {})]  # the service wakes what the hours now open


def test_only_one_schedule_applied_to_groups_and_agents_as_hours_set_does(capsys, acme):  # noqa: F811
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        zendesk_has(mock, BERLIN, NEW_YORK)
        code, out, err = run(capsys, "hours", "acme", "import", "--only", "41", "--groups", "10", "--agents", "2")

    assert code == 0, err
    (europe,) = schedules()
    assert (europe.name, europe.group_ids, europe.agent_ids) == ("Europe", ("10",), (2,))
    assert out.startswith("acme: hours imported from Zendesk: 'Europe'")


def test_a_reimport_replaces_the_imported_ones_by_zendesk_id_and_keeps_the_hand_made(capsys, acme):  # noqa: F811
    assert run(capsys, "hours", "acme", "set", "weekend", "--tz", "UTC", "--weekly", "sat-sun 10:00-14:00",
               "--groups", "20")[0] == 0
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        zendesk_has(mock, BERLIN, NEW_YORK)
        assert run(capsys, "hours", "acme", "import", "--only", "41", "--groups", "10")[0] == 0
        assert run(capsys, "hours", "acme", "import")[0] == 0
    renamed = {**BERLIN, "name": "Europe (new)", "intervals": BERLIN["intervals"][:1]}
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        zendesk_has(mock, renamed)  # Zendesk renamed one and deleted the other
        code, _, err = run(capsys, "hours", "acme", "import")

    assert code == 0, err
    weekend, europe = schedules()
    assert (weekend.id, weekend.group_ids) == ("weekend", ("20",))
    assert (europe.id, europe.name, europe.intervals, europe.group_ids) == (
        "zendesk:41", "Europe (new)", ((1980, 2460),), ("10",))  # still applied to the groups it was given


def test_imported_hours_are_removed_by_their_name(capsys, acme):  # noqa: F811
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        zendesk_has(mock, BERLIN)
        assert run(capsys, "hours", "acme", "import")[0] == 0

    assert run(capsys, "hours", "acme", "remove", "Europe")[0] == 0
    assert schedules() == ()


@pytest.mark.parametrize(("found", "argv", "message"), [
    ((BERLIN,), ["--only", "99"], "acme has no Zendesk schedule 99; nothing changed"),
    (({**BERLIN, "time_zone": "Middle Earth"},), [], "Zendesk schedule 41 (Europe): time zone 'Middle Earth' has "
                                                     "no IANA equivalent"),
    ((BERLIN,), ["--only", "41", "--groups", "99"], "unknown group: 99"),
    (({**BERLIN, "name": "weekend"},), [], "hours 'weekend' were set by hand"),
])
def test_bad_input_is_one_line_and_stores_nothing(capsys, acme, found, argv, message):  # noqa: F811
    assert run(capsys, "hours", "acme", "set", "weekend", "--tz", "UTC", "--weekly", "sat 10:00-14:00",
               "--groups", "20")[0] == 0
    before = wiring.policies().get("acme")
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        zendesk_has(mock, *found)
        mock.get(f"{API}/99.json", status=404, json={"error": "RecordNotFound", "description": "Not found"})
        err = refused(capsys, "hours", "acme", "import", *argv)

    assert message in err
    assert wiring.policies().get("acme") == before


@pytest.mark.parametrize("argv", [
    ["hours", "acme", "import", "--groups", "10"],  # two schedules in Zendesk: which one?
    ["hours", "acme", "import", "--only", "abc"],
    ["hours", "acme", "import", "eu"],
    ["hours", "acme", "list", "--only", "41"],
])
def test_a_malformed_import_line_exits_2_and_stores_nothing(capsys, acme, argv):  # noqa: F811
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        zendesk_has(mock, BERLIN, NEW_YORK)
        refused(capsys, *argv, code=2)
    assert schedules() == ()


def test_an_unknown_account_is_one_line(capsys, acme):  # noqa: F811
    err = refused(capsys, "hours", "globex", "import")
    assert "globex" in err
