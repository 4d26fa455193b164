"""What an absence reassigns (assignment/absence.py's pure rules) and the reassignment request's JSON."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from round_robin.assignment.absence import absence_key, covered_statuses, is_out
from round_robin.availability.localtime import start_of_day
from round_robin.availability.model import AccountPolicy, AgentState
from round_robin.aws.queue import AssignmentRequest

NOW = 1_800_000_000.0  # 2027-01-15 08:00 UTC
BEN = AgentState(id=2, name="Ben", status="ooo", ooo_until="2027-01-20", backup_id=3)


@pytest.mark.parametrize(("reassign", "source", "statuses"), [
    ("off", "absence", ()), ("off", "reopened", ()),
    ("new", "absence", ("new",)), ("open", "absence", ("new", "open")),
    ("new", "reopened", ("open",)), ("open", "reopened", ("open",)),
])
def test_the_policy_says_which_statuses_a_reassignment_takes(reassign, source, statuses):
    assert covered_statuses(AccountPolicy(reassign=reassign), source) == statuses


def test_an_agent_is_out_from_the_start_of_their_absence_until_the_start_of_their_return_date():
    policy = AccountPolicy()
    back = start_of_day("2027-01-20", "UTC")
    scheduled = replace(BEN, ooo_from=NOW + 3600)
    assert is_out(BEN, policy, NOW) and not is_out(BEN, policy, back)
    assert not is_out(scheduled, policy, NOW) and is_out(scheduled, policy, NOW + 3600)


def test_the_out_of_office_app_counts_only_when_the_account_follows_it():
    agent = AgentState(id=2, name="Ben", ooo_app=True)
    assert not is_out(agent, AccountPolicy(), NOW)
    assert absence_key(agent, AccountPolicy(ooo_app=True), NOW) == "app"


def test_each_absence_has_its_own_key_and_a_new_backup_makes_a_new_one():
    policy = AccountPolicy()
    key = absence_key(BEN, policy, NOW)
    assert key is not None and key == absence_key(replace(BEN, version=9, open_count=4), policy, NOW)
    assert key != absence_key(replace(BEN, backup_id=4), policy, NOW)
    assert key != absence_key(replace(BEN, ooo_until="2027-01-25"), policy, NOW)


def test_a_reassignment_request_round_trips_and_an_old_message_still_parses():
    request = AssignmentRequest("acme", 7, "absence", NOW, reassign_from=2)
    assert AssignmentRequest.from_json(request.to_json()) == request
    old = json.dumps({"subdomain": "acme", "ticket_id": 7, "source": "webhook", "received_at": NOW})
    assert AssignmentRequest.from_json(old) == AssignmentRequest("acme", 7, "webhook", NOW)
