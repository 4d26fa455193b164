"""What Zendesk tells about an agent's availability, as documented: unified agent statuses and the Agent
Availability API, the Out of Office app's user field, business-hours schedules and their holidays, and the
sandbox's controls that change them."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest

AGENTS_AND_ADMINS = 9  # in the demo account: Ada, Ben, Cleo, Finn, Dev, Eve, Ivy, Lena, and Gus (inactive)


# -- agent statuses ------------------------------------------------------------------------------------------

def test_agent_statuses_are_the_documented_defaults_and_the_accounts_custom_ones(acme):
    acme.control("POST", "agent-statuses", {"name": "In a meeting", "description": "Emails only", "channels": {
        "messaging": "away", "support": "online", "talk": "away"}}, status=201)

    answer = acme.client.get("/acme/api/v2/agent_availabilities/agent_statuses", headers=acme.admin)

    assert answer.status_code == 200
    assert {(s["id"], s["attributes"]["name"]) for s in answer.json["default"]} == {
        (2, "offline"), (3, "online"), (4, "away"), (5, "transfers_only")}
    assert all(s["type"] == "agent_status" for s in answer.json["default"])
    (custom,) = answer.json["custom"]
    assert custom["attributes"] == {"channels": {"messaging": "away", "support": "online", "talk": "away"},
                                    "description": "Emails only", "group_ids": [], "name": "In a meeting"}


def test_a_custom_status_needs_a_unique_name_and_a_state_for_every_channel(acme):
    acme.control("POST", "agent-statuses", {"name": "Online", "channels": {
        "messaging": "away", "support": "online", "talk": "away"}}, status=422)
    acme.control("POST", "agent-statuses", {"name": "Lunch", "channels": {"support": "online"}}, status=422)


def availabilities(acme, **params):
    answer = acme.client.get("/acme/api/v2/agent_availabilities", headers=acme.admin, query_string=params)
    assert answer.status_code == 200, answer.json
    return answer.json


def test_agent_availabilities_are_json_api_resources_and_agents_start_online_in_the_demo(acme):
    ben = acme.users["Ben Agent"]
    page = availabilities(acme, **{"filter[agent_id]": str(ben)})
    (resource,) = page["data"]
    assert resource["type"] == "agent_availabilities" and resource["id"] == f"agent_availabilities|{ben}"
    attributes = resource["attributes"]
    assert attributes["agent_id"] == ben and attributes["version"] == 1
    assert (attributes["agent_status"]["id"], attributes["agent_status"]["name"]) == (3, "online")
    assert attributes["group_ids"] == [acme.groups["Support"]]
    assert {c["attributes"]["name"]: c["attributes"]["status"] for c in page["included"]} == {
        "messaging": "online", "support": "online", "talk": "online"}
    assert resource["links"]["self"].endswith(f"/acme/api/v2/agent_availabilities/{ben}")


def test_agent_availabilities_page_by_cursor_and_filter_by_status_and_channel_state(acme):
    ben, eve = acme.users["Ben Agent"], acme.users["Eve Agent"]
    acme.control("POST", f"agents/{ben}/status", {"status": "away"})
    acme.control("POST", f"agents/{eve}/status", {"status": 5})

    seen, query, path = [], {"page[size]": "2"}, "/acme/api/v2/agent_availabilities"
    while True:
        page = acme.client.get(path, headers=acme.admin, query_string=query).json
        seen += [r["attributes"]["agent_id"] for r in page["data"]]
        if not page["meta"]["has_more"]:
            break
        link = urlsplit(page["links"]["next"])
        path, query = link.path, link.query
    online = {r["attributes"]["agent_id"] for r in availabilities(acme, **{
        "filter[channel_status]": "support:online"})["data"]}
    away = [r["attributes"]["agent_id"] for r in availabilities(acme, **{"filter[agent_status_id]": "4"})["data"]]

    assert len(seen) == len(set(seen)) == AGENTS_AND_ADMINS - 1  # Gus is inactive
    assert ben not in online and eve not in online and len(online) == AGENTS_AND_ADMINS - 3
    assert away == [ben]


def test_setting_a_status_by_id_or_name_increases_the_agents_version(acme):
    ben = acme.users["Ben Agent"]
    assert acme.control("POST", f"agents/{ben}/status", {"status": "Away"})["availability"]["version"] == 2
    assert acme.control("POST", f"agents/{ben}/status", {"status": 4})["availability"]["version"] == 2  # no change
    assert acme.control("POST", f"agents/{ben}/status", {"status": 2})["availability"]["version"] == 3
    shown = acme.client.get(f"/acme/api/v2/agent_availabilities/{ben}", headers=acme.admin).json["data"]
    assert shown["attributes"]["agent_status"]["name"] == "offline" and shown["attributes"]["version"] == 3
    acme.control("POST", f"agents/{ben}/status", {"status": "napping"}, status=422)
    acme.control("POST", f"agents/{acme.users['Hana Customer']}/status", {"status": 3}, status=404)


@pytest.mark.parametrize("path", ["/acme/api/v2/agent_availabilities",
                                  "/acme/api/v2/agent_availabilities/agent_statuses",
                                  "/acme/api/v2/business_hours/schedules"])
def test_availability_and_schedule_lists_are_for_admins_only(acme, path):
    answer = acme.client.get(path, headers=acme.as_user("Ivy Agent"))
    assert answer.status_code == 403


# -- the Out of Office app ------------------------------------------------------------------------------------

def test_the_out_of_office_apps_field_is_listed_and_every_user_has_it_unchecked(acme):
    answer = acme.client.get("/acme/api/v2/user_fields.json", headers=acme.as_user("Ivy Agent"))  # agents may list
    (field,) = answer.json["user_fields"]
    assert (field["key"], field["title"], field["type"], field["tag"]) == ("agent_ooo", "Agent Out?", "checkbox",
                                                                           "agent_ooo")
    ben = acme.client.get(f"/acme/api/v2/users/{acme.users['Ben Agent']}.json", headers=acme.admin).json["user"]
    assert ben["user_fields"] == {"agent_ooo": False}


def test_without_the_app_users_have_no_user_fields_and_the_control_refuses_agent_ooo(acme):
    account = acme.sandbox.create_account("bare", seed="none")
    ann = acme.sandbox.add_user(account, "Ann Agent", "agent")
    assert ann["user_fields"] == {}
    answer = acme.client.post(f"/_sandbox/accounts/bare/users/{ann['id']}", json={"agent_ooo": True})
    assert answer.status_code == 400 and "not installed" in answer.json["error"]
    acme.client.post("/_sandbox/accounts/bare/apps/out-of-office")
    assert acme.client.post(f"/_sandbox/accounts/bare/users/{ann['id']}", json={
        "agent_ooo": True}).json["user"]["user_fields"] == {"agent_ooo": True}


def test_an_agent_may_update_their_own_fields_but_not_another_agent_nor_their_own_role(acme):
    ivy = acme.as_user("Ivy Agent")
    own = acme.client.put(f"/acme/api/v2/users/{acme.users['Ivy Agent']}", headers=ivy,
                          json={"user": {"user_fields": {"agent_ooo": True}}})
    other = acme.client.put(f"/acme/api/v2/users/{acme.users['Ben Agent']}", headers=ivy,
                            json={"user": {"user_fields": {"agent_ooo": True}}})
    promote = acme.client.put(f"/acme/api/v2/users/{acme.users['Ivy Agent']}", headers=ivy,
                              json={"user": {"role": "admin"}})
    delete = acme.client.delete(f"/acme/api/v2/users/{acme.users['Ben Agent']}", headers=ivy)
    assert own.status_code == 200 and own.json["user"]["user_fields"]["agent_ooo"] is True
    assert [other.status_code, promote.status_code, delete.status_code] == [403, 403, 403]
    assert acme.account.users[acme.users["Ben Agent"]]["user_fields"]["agent_ooo"] is False


@pytest.mark.parametrize("changes, field", [({"role": "boss"}, "role"), ({"time_zone": "Mars/Olympus"}, "time_zone"),
                                            ({"custom_role_id": 1}, "custom_role_id")])
def test_invalid_user_changes_are_422_and_change_nothing(acme, changes, field):
    before = dict(acme.account.users[acme.users["Ben Agent"]])
    answer = acme.client.put(f"/acme/api/v2/users/{acme.users['Ben Agent']}", headers=acme.admin,
                             json={"user": {**changes, "suspended": True}})
    assert answer.status_code == 422 and field in answer.json["details"]
    assert acme.account.users[acme.users["Ben Agent"]] == before


# -- people controls -------------------------------------------------------------------------------------------

def test_the_user_control_changes_active_suspended_role_and_role_type(acme):
    cleo = acme.users["Cleo Agent"]
    user = acme.control("POST", f"users/{cleo}", {"active": False, "suspended": True})["user"]
    assert (user["active"], user["suspended"]) == (False, True)
    user = acme.control("POST", f"users/{cleo}", {"role_type": 3})["user"]  # a contributor: still role agent
    assert (user["role"], user["role_type"]) == ("agent", 3) and user["custom_role_id"] is not None
    user = acme.control("POST", f"users/{cleo}", {"role": "end-user"})["user"]
    assert (user["role"], user["role_type"], user["custom_role_id"]) == ("end-user", None, None)


def test_the_membership_controls_add_and_remove_and_keep_a_default_group(acme):
    ben = acme.users["Ben Agent"]
    added = acme.control("POST", "memberships", {"user_id": ben, "group_id": acme.groups["Billing"]}, status=201)
    acme.control("POST", "memberships", {"user_id": ben, "group_id": acme.groups["Billing"]}, status=422)
    acme.control("POST", "memberships", {"user_id": acme.users["Hana Customer"], "group_id": acme.groups["Billing"]},
                 status=422)
    first = next(m for m in acme.account.memberships.values() if m["user_id"] == ben and m["default"])

    acme.control("DELETE", f"memberships/{first['id']}", status=204)

    assert acme.account.users[ben]["default_group_id"] == acme.groups["Billing"]
    assert acme.account.memberships[added["group_membership"]["id"]]["default"] is True


# -- business-hours schedules ----------------------------------------------------------------------------------

def test_the_demo_schedules_have_rails_time_zones_and_weekday_intervals_in_minutes_from_sunday(acme):
    schedules = acme.client.get("/acme/api/v2/business_hours/schedules.json", headers=acme.admin).json["schedules"]
    by_name = {s["name"]: s for s in schedules}
    assert {n: s["time_zone"] for n, s in by_name.items()} == {"North America": "Eastern Time (US & Canada)",
                                                                "EMEA": "London"}
    assert by_name["North America"]["intervals"][0] == {"start_time": 1440 + 9 * 60, "end_time": 1440 + 17 * 60}
    assert len(by_name["EMEA"]["intervals"]) == 5
    assert {"id", "name", "time_zone", "intervals", "created_at", "updated_at"} == set(by_name["EMEA"])
    shown = acme.client.get(f"/acme/api/v2/business_hours/schedules/{by_name['EMEA']['id']}",
                            headers=acme.as_user("Ivy Agent"))  # Show Schedule: agents too
    assert shown.status_code == 200 and shown.json["schedule"] == by_name["EMEA"]


def test_holidays_are_inclusive_dates_filtered_by_when_they_begin(acme):
    schedule = acme.control("POST", "schedules", {"name": "APAC", "time_zone": "Tokyo"}, status=201)["schedule"]
    path = f"schedules/{schedule['id']}/holidays"
    acme.control("POST", path, {"name": "Golden Week", "start_date": "2027-04-29", "end_date": "2027-05-05"}, 201)
    acme.control("POST", path, {"name": "Obon", "start_date": "2027-08-13", "end_date": "2027-08-16"}, 201)
    api = f"/acme/api/v2/business_hours/schedules/{schedule['id']}/holidays"

    every = acme.client.get(api, headers=acme.admin).json["holidays"]
    april = acme.client.get(api, headers=acme.admin, query_string={"start_date": "2027-04-01",
                                                                   "end_date": "2027-04-30"}).json["holidays"]

    assert [(h["name"], h["start_date"], h["end_date"]) for h in every] == [
        ("Golden Week", "2027-04-29", "2027-05-05"), ("Obon", "2027-08-13", "2027-08-16")]
    assert [h["name"] for h in april] == ["Golden Week"]
    assert acme.client.get(api, headers=acme.as_user("Ivy Agent")).status_code == 403


@pytest.mark.parametrize("spec, field", [
    ({"name": "X", "time_zone": "America/New_York"}, "time_zone"),  # an IANA name, not a Rails one
    ({"name": "X", "time_zone": "UTC", "intervals": [{"start_time": 1380, "end_time": 1500}]}, "intervals"),
    ({"name": "X", "time_zone": "UTC", "intervals": [{"start_time": 600, "end_time": 500}]}, "intervals"),
    ({"name": "X", "time_zone": "UTC", "intervals": [{"start_time": 600, "end_time": 700},
                                                     {"start_time": 650, "end_time": 800}]}, "intervals"),
    ({"name": "", "time_zone": "UTC"}, "name"),
])
def test_invalid_schedules_are_422(acme, spec, field):
    answer = acme.client.post("/acme/api/v2/business_hours/schedules", headers=acme.admin, json={"schedule": spec})
    assert answer.status_code == 422 and field in answer.json["details"]


def test_a_schedule_ending_at_saturday_midnight_is_accepted_through_the_api(acme):
    answer = acme.client.post("/acme/api/v2/business_hours/schedules", headers=acme.admin, json={"schedule": {
        "name": "Weekend", "time_zone": "UTC", "intervals": [{"start_time": 9360, "end_time": 10080}]}})
    assert answer.status_code == 201 and answer.json["schedule"]["intervals"] == [{"start_time": 9360,
                                                                                   "end_time": 10080}]
