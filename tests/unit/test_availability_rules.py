"""Who may take a ticket now: each rule, and which source wins when they disagree (rules.py)."""

import subprocess
import sys
from dataclasses import replace
from datetime import datetime

import pytest

from round_robin.availability.model import (
    AVAILABLE,
    AWAY,
    OUT_OF_OFFICE,
    AccountPolicy,
    AgentState,
    Schedule,
    Verdict,
)
from round_robin.availability.rules import backup_of, caps, counts_today, eligibility, own_status, under_cap

WEEKDAYS_9_TO_17 = tuple((day * 1440 + 9 * 60, day * 1440 + 17 * 60) for day in range(1, 6))
PARIS_HOURS = Schedule("s1", "Support", "Europe/Paris", WEEKDAYS_9_TO_17, group_ids=("10",))
DEFAULTS = AccountPolicy()
EVERYTHING_ON = AccountPolicy(zendesk_status=True, ooo_app=True)


def at(iso: str) -> float:
    return datetime.fromisoformat(iso).timestamp()


def agent(**fields) -> AgentState:
    return replace(AgentState(7, "Ada", time_zone="Europe/Berlin"), **fields)


def verdict(a: AgentState, policy: AccountPolicy = DEFAULTS, schedules=(), group="10",
            now: str = "2026-11-24T10:00:00+00:00", **kwargs) -> Verdict:
    return eligibility(a, policy, schedules, group, at(now), **kwargs)


# --- the defaults -------------------------------------------------------------------------------------------------

def test_an_agent_in_rotation_with_no_other_rule_is_eligible_and_stays_so():
    assert verdict(agent()) == Verdict(True, "eligible", "", "available", None)


def test_every_source_off_leaves_only_rotation_and_capacity():
    policy = AccountPolicy(own_status=False, working_hours=False)
    a = agent(status=OUT_OF_OFFICE, zendesk_status="offline", ooo_app=True)
    assert verdict(a, policy, [PARIS_HOURS], now="2026-11-24T23:00:00+00:00").eligible
    assert verdict(replace(a, in_rotation=False), policy).reason == "not_in_rotation"


# --- 1. rotation --------------------------------------------------------------------------------------------------

def test_an_agent_out_of_rotation_is_not_eligible_whatever_else_says_yes():
    v = verdict(agent(in_rotation=False, zendesk_status="online"), EVERYTHING_ON)
    assert (v.eligible, v.reason, v.source, v.detail, v.until) == (False, "not_in_rotation", "rotation",
                                                                   "not in rotation", None)


def test_being_out_of_rotation_comes_before_being_out_of_office():
    assert verdict(agent(in_rotation=False, status=OUT_OF_OFFICE)).reason == "not_in_rotation"


# --- 2. the service's own status ----------------------------------------------------------------------------------

def test_an_away_agent_is_not_eligible_until_someone_sets_them_back():
    assert verdict(agent(status=AWAY)) == Verdict(False, "away", "service", "away", None)


def test_the_own_status_is_ignored_when_the_account_does_not_follow_it():
    assert verdict(agent(status=AWAY), AccountPolicy(own_status=False)).eligible


def test_out_of_office_names_the_return_date_and_the_backup_and_ends_at_the_agents_local_midnight():
    # given Ada (Berlin, UTC+1 in winter) out of office until 2026-12-01 with Ben as her backup
    ada = agent(status=OUT_OF_OFFICE, ooo_until="2026-12-01", backup_id=8)
    # then she is out, and back at 2026-12-01 00:00 in Berlin, i.e. 2026-11-30 23:00 UTC
    v = verdict(ada, names={8: "Ben"})
    assert v == Verdict(False, "out_of_office", "service", "out of office until 2026-12-01 (backup: Ben)",
                        at("2026-11-30T23:00:00+00:00"))
    assert verdict(ada, now="2026-11-30T22:59:59+00:00").reason == "out_of_office"
    assert verdict(ada, now="2026-11-30T23:00:00+00:00").eligible


def test_the_return_date_is_read_in_the_agents_own_time_zone():
    # the same return date in New York (UTC-5 in winter) ends six hours later than in Berlin
    new_yorker = agent(status=OUT_OF_OFFICE, ooo_until="2026-12-01", time_zone="America/New_York")
    assert verdict(new_yorker).until == at("2026-12-01T05:00:00+00:00")
    assert verdict(new_yorker, now="2026-12-01T04:59:00+00:00").reason == "out_of_office"
    assert verdict(new_yorker, now="2026-12-01T05:00:00+00:00").eligible


def test_a_backup_without_a_known_name_is_named_by_id():
    assert verdict(agent(status=OUT_OF_OFFICE, backup_id=8)).detail == "out of office (backup: agent 8)"


def test_out_of_office_without_a_return_date_lasts_until_someone_ends_it():
    v = verdict(agent(status=OUT_OF_OFFICE), now="2030-01-01T00:00:00+00:00")
    assert (v.reason, v.detail, v.until) == ("out_of_office", "out of office", None)


def test_out_of_office_starting_later_leaves_the_agent_eligible_until_it_starts():
    starts = at("2026-11-25T08:00:00+00:00")
    ada = agent(status=OUT_OF_OFFICE, ooo_from=starts, ooo_until="2026-12-01", backup_id=8)
    before = verdict(ada, now="2026-11-24T10:00:00+00:00")
    assert before.eligible and before.until == starts  # the verdict changes by itself when the absence starts
    assert verdict(ada, now="2026-11-25T08:00:00+00:00").reason == "out_of_office"


def test_the_backup_is_only_in_charge_while_the_agent_is_out():
    ada = agent(status=OUT_OF_OFFICE, ooo_from=at("2026-11-25T08:00:00+00:00"), ooo_until="2026-12-01", backup_id=8)
    assert backup_of(ada, at("2026-11-24T10:00:00+00:00")) is None
    assert backup_of(ada, at("2026-11-26T10:00:00+00:00")) == 8
    assert backup_of(ada, at("2026-12-01T10:00:00+00:00")) is None
    assert [own_status(ada, at(t)) for t in ("2026-11-24T10:00:00+00:00", "2026-11-26T10:00:00+00:00",
                                             "2026-12-01T10:00:00+00:00")] == [AVAILABLE, OUT_OF_OFFICE, AVAILABLE]


def test_out_of_office_wins_over_zendesk_saying_online():
    v = verdict(agent(status=OUT_OF_OFFICE, zendesk_status="online"), EVERYTHING_ON)
    assert (v.reason, v.source) == ("out_of_office", "service")


# --- 3. the Out of Office app -------------------------------------------------------------------------------------

def test_the_out_of_office_apps_field_makes_an_agent_ineligible_when_the_account_follows_it():
    v = verdict(agent(ooo_app=True), AccountPolicy(ooo_app=True))
    assert (v.eligible, v.reason, v.source, v.detail) == (False, "ooo_app", "ooo_app",
                                                         'Out of Office app: "Agent Out?" is checked')
    assert verdict(agent(ooo_app=True), AccountPolicy(ooo_app=False)).eligible


def test_the_out_of_office_app_comes_after_the_own_status_and_before_zendesk():
    assert verdict(agent(ooo_app=True, status=AWAY), EVERYTHING_ON).reason == "away"
    assert verdict(agent(ooo_app=True, zendesk_status="offline"), EVERYTHING_ON).reason == "ooo_app"


# --- 4. Zendesk's agent status ------------------------------------------------------------------------------------

@pytest.mark.parametrize("status, eligible", [("online", True), ("away", False), ("offline", False),
                                              ("transfers only", False), ("Online", True)])
def test_zendesks_default_statuses_map_to_available_only_when_online(status, eligible):
    assert verdict(agent(zendesk_status=status), AccountPolicy(zendesk_status=True)).eligible is eligible


def test_an_unknown_or_custom_zendesk_status_is_away_unless_the_account_maps_it():
    in_a_meeting = agent(zendesk_status="in a meeting")
    v = verdict(in_a_meeting, AccountPolicy(zendesk_status=True))
    assert (v.reason, v.source, v.detail, v.until) == ("zendesk_status", "zendesk", "Zendesk status: In a meeting",
                                                       None)
    mapped = AccountPolicy(zendesk_status=True, status_map={"online": AVAILABLE, "in a meeting": AVAILABLE})
    assert verdict(in_a_meeting, mapped).eligible


def test_zendesk_status_says_nothing_before_one_is_received_or_when_not_followed():
    assert verdict(agent(zendesk_status=None), AccountPolicy(zendesk_status=True)).eligible
    assert verdict(agent(zendesk_status="offline"), AccountPolicy(zendesk_status=False)).eligible


def test_the_detail_shows_zendesks_status_name():
    assert verdict(agent(zendesk_status="away"), EVERYTHING_ON).detail == "Zendesk status: Away"


def test_zendesk_status_comes_before_working_hours():
    at_night = "2026-11-24T23:00:00+00:00"
    assert verdict(agent(zendesk_status="offline"), EVERYTHING_ON, [PARIS_HOURS], now=at_night).reason == \
        "zendesk_status"


# --- 5. working hours ---------------------------------------------------------------------------------------------

def test_outside_the_groups_hours_an_agent_is_not_eligible_until_they_open():
    # Tuesday 2026-11-24 17:30 in Paris (UTC+1): closed until Wednesday 09:00 Paris = 08:00 UTC
    v = verdict(agent(), schedules=[PARIS_HOURS], now="2026-11-24T16:30:00+00:00")
    assert v == Verdict(False, "off_hours", "schedule", "outside Support hours (Europe/Paris)",
                        at("2026-11-25T08:00:00+00:00"))


def test_within_hours_an_agent_is_eligible_until_they_close():
    v = verdict(agent(), schedules=[PARIS_HOURS], now="2026-11-24T10:00:00+00:00")
    assert v.eligible and v.until == at("2026-11-24T16:00:00+00:00")


def test_a_holiday_closes_the_whole_day():
    christmas = replace(PARIS_HOURS, holidays=(("2026-12-24", "2026-12-25"),))
    v = verdict(agent(), schedules=[christmas], now="2026-12-24T10:00:00+00:00")
    assert (v.reason, v.detail) == ("holiday", "holiday 2026-12-24 to 2026-12-25 in Support hours (Europe/Paris)")
    assert v.until == at("2026-12-28T08:00:00+00:00")  # Monday 09:00 in Paris, after the weekend


def test_hours_apply_only_to_their_groups_and_agents_and_only_when_the_account_uses_them():
    at_night = "2026-11-24T23:00:00+00:00"
    assert verdict(agent(), schedules=[PARIS_HOURS], group="11", now=at_night).eligible  # another group
    assert verdict(agent(), AccountPolicy(working_hours=False), [PARIS_HOURS], now=at_night).eligible


def test_working_hours_come_before_capacity():
    full = agent(open_count=5, open_cap=5)
    assert verdict(full, schedules=[PARIS_HOURS], now="2026-11-24T23:00:00+00:00").reason == "off_hours"


def test_an_eligible_agents_verdict_changes_at_the_first_of_an_out_of_office_start_and_closing_time():
    leaving = agent(status=OUT_OF_OFFICE, ooo_from=at("2026-11-24T12:00:00+00:00"))
    assert verdict(leaving, schedules=[PARIS_HOURS]).until == at("2026-11-24T12:00:00+00:00")
    leaving_tomorrow = replace(leaving, ooo_from=at("2026-11-25T12:00:00+00:00"))
    assert verdict(leaving_tomorrow, schedules=[PARIS_HOURS]).until == at("2026-11-24T16:00:00+00:00")


# --- 6. capacity --------------------------------------------------------------------------------------------------

def test_the_account_default_open_cap_stops_an_agent_at_the_cap():
    policy = AccountPolicy(open_cap=5)
    assert verdict(agent(open_count=4), policy).eligible
    assert verdict(agent(open_count=5), policy) == Verdict(False, "open_cap", "capacity", "5 of 5 open tickets")


def test_an_agents_own_cap_overrides_the_account_default_either_way():
    policy = AccountPolicy(open_cap=5, daily_cap=20)
    assert verdict(agent(open_count=5, open_cap=8), policy).eligible
    assert verdict(agent(open_count=2, open_cap=2), policy).detail == "2 of 2 open tickets"
    assert verdict(agent(open_cap=0), policy).reason == "open_cap"  # 0: no tickets at all
    assert caps(agent(daily_cap=3), policy) == (5, 3)
    assert caps(agent(), AccountPolicy()) == (None, None)


def test_no_cap_means_any_count_fits():
    assert under_cap(10_000, None) and under_cap(4, 5) and not under_cap(5, 5) and not under_cap(0, 0)


def test_the_daily_cap_counts_the_agents_local_day_and_resets_at_their_midnight():
    # given Ada in Berlin who got 3 tickets on her 2026-11-24, with a daily cap of 3
    ada = agent(daily_count=3, daily_date="2026-11-24")
    policy = AccountPolicy(daily_cap=3)
    # then she is full until midnight in Berlin (23:00 UTC), and free again from then on
    v = verdict(ada, policy, now="2026-11-24T22:59:00+00:00")
    assert v == Verdict(False, "daily_cap", "capacity", "3 of 3 tickets today", at("2026-11-24T23:00:00+00:00"))
    assert verdict(ada, policy, now="2026-11-24T23:00:00+00:00").eligible
    assert counts_today(ada, at("2026-11-24T22:59:00+00:00")) == 3
    assert counts_today(ada, at("2026-11-24T23:00:00+00:00")) == 0


def test_the_daily_count_of_another_day_counts_nothing():
    assert counts_today(agent(daily_count=9, daily_date="2026-11-23"), at("2026-11-24T10:00:00+00:00")) == 0
    assert counts_today(agent(daily_count=9, daily_date=None), at("2026-11-24T10:00:00+00:00")) == 0


def test_the_open_cap_is_checked_before_the_daily_cap():
    both = agent(open_count=5, daily_count=3, daily_date="2026-11-24")
    assert verdict(both, AccountPolicy(open_cap=5, daily_cap=3)).reason == "open_cap"


# --- purity -------------------------------------------------------------------------------------------------------

def test_the_availability_package_imports_no_aws_or_http_library():
    modules = ", ".join(f"round_robin.availability.{m}" for m in (
        "model", "rules", "schedules", "validation", "zendesk_schedules", "rails_zones", "localtime"))
    code = f"import sys, {modules}; print(sorted({{'boto3', 'botocore', 'requests'}} & set(sys.modules)))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"
