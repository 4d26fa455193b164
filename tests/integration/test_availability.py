"""The real eligibility rule (wiring.eligibility_rules) in the selection under moto, with the account's policy and
schedules stored on its AVAILABILITY item (assignment/policy.py)."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace

from round_robin import wiring
from round_robin.assignment.agents import AgentStore
from round_robin.assignment.policy import PolicyStore
from round_robin.assignment.rosters import RosterStore
from round_robin.assignment.selection import Selector, Waiting
from round_robin.availability.model import Schedule
from round_robin.aws import clients
from tests.integration.conftest import TABLE
from tests.integration.selection_support import SUB, agents, claim, roster, store_rosters

NOW = 1_795_000_000.0  # Wednesday 2026-11-18, 11:06:40 UTC


def real_selector() -> Selector:
    dynamodb = clients.client("dynamodb")
    return Selector(table_name=TABLE, rosters=RosterStore(TABLE, dynamodb), agents=AgentStore(TABLE, dynamodb),
                    rules=wiring.eligibility_rules())


def policies() -> PolicyStore:
    return PolicyStore(TABLE, clients.client("dynamodb"))


def assign(worker: Selector, ticket_id: int, now: float = NOW):
    return worker.select(SUB, "g", ticket_id, claim(ticket_id, now), now)


def test_an_agent_set_away_gets_nothing_while_the_others_share_evenly_and_comes_back_without_catching_up(aws_env):
    store_rosters(roster("g", [1, 2, 3, 4]))
    worker = real_selector()
    agents().change(SUB, 2, {"status": "away"}, NOW)

    away = [assign(worker, t).agent.id for t in range(1, 11)]
    agents().change(SUB, 2, {"status": "available"}, NOW)
    back = [assign(worker, t).agent.id for t in range(11, 19)]

    shares = Counter(away)
    assert 2 not in shares and max(shares.values()) - min(shares.values()) <= 1
    assert Counter(back) == {1: 2, 2: 2, 3: 2, 4: 2}  # one turn a lap, no catching up


def test_an_out_of_office_agent_is_skipped_until_their_return_date(aws_env):
    store_rosters(roster("g", [1, 2]))
    agents().change(SUB, 1, {"status": "ooo", "ooo_until": "2026-11-20"}, NOW)
    worker = real_selector()

    assert [assign(worker, t).agent.id for t in (1, 2)] == [2, 2]
    assert assign(worker, 3, now=NOW + 2 * 86400).agent.id == 1  # 2026-11-20 in UTC: back


def test_the_stored_account_cap_applies_and_a_full_group_waits_for_capacity(aws_env):
    store_rosters(roster("g", [1, 2]))
    worker = real_selector()
    assign(worker, 1)  # cached before the policy changes: the version on AVAILABILITY moves with it
    policies().set(SUB, lambda policy, schedules: (replace(policy, open_cap=1), schedules), NOW)

    assert assign(worker, 2).agent.id == 2
    waiting = assign(worker, 3)
    assert isinstance(waiting, Waiting) and waiting.reason == "open_cap"


def test_a_group_outside_its_stored_hours_waits_until_they_open(aws_env):
    store_rosters(roster("g", [1, 2]))
    weekdays_9_to_17 = tuple((day * 1440 + 540, day * 1440 + 1020) for day in range(1, 6))
    hours = Schedule("support", "Support", "UTC", weekdays_9_to_17, group_ids=("g",))
    policies().set(SUB, lambda policy, _: (policy, (hours,)), NOW)

    evening = NOW + 8 * 3600  # 19:06:40 UTC on a Wednesday
    worker = real_selector()

    waiting = assign(worker, 1, now=evening)

    assert isinstance(waiting, Waiting) and waiting.reason == "off_hours"
    thursday_9 = NOW - (11 * 3600 + 6 * 60 + 40) + 86400 + 9 * 3600
    assert waiting.until == thursday_9
    assert assign(worker, 2, now=thursday_9).agent.id == 1


def test_the_policy_store_round_trips_and_every_change_moves_the_version(aws_env):
    store = policies()
    hours = Schedule("s", "S", "Europe/Berlin", ((540, 600),), (("2026-12-24", "2026-12-26"),), ("10",), (7,))
    before = store.get(SUB)

    store.set(SUB, lambda policy, _: (replace(policy, zendesk_status=True, daily_cap=5), (hours,)), NOW)
    store.set(SUB, lambda policy, schedules: (replace(policy, reassign="new"), schedules), NOW)

    policy, schedules = store.get(SUB)
    assert before == (type(policy)(), ())
    assert (policy.zendesk_status, policy.daily_cap, policy.reassign, policy.open_cap) == (True, 5, "new", None)
    assert schedules == (hours,)
    stamp = clients.client("dynamodb").get_item(TableName=TABLE, Key={"pk": {"S": f"ACCOUNT#{SUB}"},
                                                                     "sk": {"S": "AVAILABILITY"}})["Item"]
    assert stamp["version"] == {"N": "2"}


def test_a_stored_policy_and_schedules_cost_a_warm_selection_no_extra_call(aws_env):
    # given an account with a cap and working hours stored, and a warm worker
    store_rosters(roster("g", [1, 2]))
    always = Schedule("all", "All week", "UTC", ((0, 7 * 1440),), group_ids=("g",))
    policies().set(SUB, lambda policy, _: (replace(policy, open_cap=5), (always,)), NOW)
    worker = real_selector()
    assign(worker, 1)
    ticket = claim(2, NOW)
    calls: Counter = Counter()
    clients.client("dynamodb").meta.events.register("before-call.dynamodb",
                                                    lambda model, **_: calls.update([model.name]))

    worker.select(SUB, "g", 2, ticket, NOW)

    # the policy and schedules come with the rotation: one read, one transaction
    assert calls == {"BatchGetItem": 1, "TransactWriteItems": 1}
