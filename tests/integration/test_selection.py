"""The selection under moto: the atomic step (rotation + capped count + claim in one transaction), what it reads,
migration from counter rosters, retries, waiting reasons, and the per-ticket counts. Zendesk is not involved."""

from __future__ import annotations

from collections import Counter

import pytest

from round_robin.assignment.agents import Marker
from round_robin.assignment.claims import CLAIM_LEASE, RetryLaterError
from round_robin.assignment.selection import Waiting
from tests.integration.conftest import TABLE
from tests.integration.selection_support import (
    BACK_IN,
    SUB,
    agent,
    agents,
    claim,
    claims,
    roster,
    selector,
    set_policy,
    store_rosters,
)

NOW = 1_795_000_000.0  # 2026-11-18, in the middle of a UTC day


def assign(worker, group: str, ticket_id: int, now: float = NOW):
    return worker.select(SUB, group, ticket_id, claim(ticket_id, now), now)


def names(choices) -> list[int]:
    return [c.agent.id for c in choices]


def test_the_rotation_skips_agents_who_are_not_eligible_and_never_falls_back_to_them(aws_env):
    store_rosters(roster("g", [1, 2, 3, 4]))
    agents().change(SUB, 2, {"status": "away"}, NOW)
    agents().change(SUB, 4, {"in_rotation": False}, NOW)
    worker = selector()

    chosen = [assign(worker, "g", t) for t in range(1, 6)]

    assert names(chosen) == [1, 3, 1, 3, 1]
    assert [c.position for c in chosen] == [1, 2, 3, 4, 5]


def test_an_agent_back_from_away_takes_their_next_turn_and_does_not_catch_up(aws_env):
    store_rosters(roster("g", [1, 2, 3]))
    worker = selector()
    agents().change(SUB, 2, {"status": "away"}, NOW)
    first = [assign(worker, "g", t).agent.id for t in range(1, 5)]  # 1, 3, 1, 3
    agents().change(SUB, 2, {"status": "available"}, NOW)

    later = [assign(worker, "g", t).agent.id for t in range(5, 11)]

    assert first == [1, 3, 1, 3]
    assert later == [1, 2, 3, 1, 2, 3]  # the pointer is on 3: 1 is next, then 2 in its place, once a lap


def test_nobody_eligible_waits_with_the_common_reason_and_the_earliest_time_it_may_change(aws_env):
    store_rosters(roster("g", [1, 2]), roster("h", [3, 4]))
    worker = selector()
    agents().change(SUB, 1, {"status": "ooo"}, NOW)
    agents().change(SUB, 2, {"status": "away"}, NOW)
    agents().change(SUB, 3, {"status": "ooo"}, NOW)
    agents().change(SUB, 4, {"status": "ooo"}, NOW)

    mixed, same = assign(worker, "g", 1), assign(worker, "h", 2)

    assert mixed == Waiting("all_away", NOW + BACK_IN)
    assert same == Waiting("out_of_office", NOW + BACK_IN)
    assert agent(1).open_count == 0  # nothing counted, the rotation did not move
    rotation = aws_env.dynamodb.get_item(TableName=TABLE, Key={"pk": {"S": "ACCOUNT#acme"},
                                                                "sk": {"S": "ROTATION#g"}})["Item"]
    assert rotation["sequence"] == {"N": "0"}


def test_the_open_cap_is_checked_atomically_and_a_full_agent_is_passed_over(aws_env):
    store_rosters(roster("g", [1, 2]))
    set_policy(aws_env.dynamodb, open_cap=2)
    worker, other = selector(), selector()
    assert names([assign(worker, "g", 1), assign(worker, "g", 2)]) == [1, 2]  # worker caches 1 and 2 at 1 each
    assert assign(other, "g", 3).agent.id == 1  # 1 is full now; `worker` does not know

    chosen = [assign(worker, "g", t) for t in (4, 5)]

    # worker's transaction on 1 fails its cap condition -> it reads 1 again and gives 2 the ticket; then both full
    assert chosen[0].agent.id == 2 and chosen[1] == Waiting("open_cap", None)
    assert (agent(1).open_count, agent(2).open_count) == (2, 2)


def test_an_agent_seen_full_in_the_cache_is_read_again_before_being_passed_over(aws_env):
    store_rosters(roster("g", [1, 2]))
    set_policy(aws_env.dynamodb, open_cap=1)
    worker = selector()
    assert names([assign(worker, "g", 1), assign(worker, "g", 2)]) == [1, 2]
    agents().count(SUB, 1, 1, is_open=False, now=NOW)  # ticket 1 solved: agent 1 has room (no stamp change)

    assert assign(worker, "g", 3).agent.id == 1


def test_an_agent_changed_behind_the_cache_fails_the_version_condition_and_is_read_again(aws_env):
    store_rosters(roster("g", [1, 2, 3]))
    worker = selector()
    assert assign(worker, "g", 1).agent.id == 1
    # agent 2 goes away without the stamp moving (as if the change landed between the read and the transaction)
    aws_env.dynamodb.update_item(TableName=TABLE, Key={"pk": {"S": "ACCOUNT#acme"}, "sk": {"S": "AGENT#2"}},
                                 UpdateExpression="SET #s = :away, version = :v",
                                 ExpressionAttributeNames={"#s": "status"},
                                 ExpressionAttributeValues={":away": {"S": "away"}, ":v": {"N": "7"}})

    assert assign(worker, "g", 2).agent.id == 3
    assert agent(2).open_count == 0


def test_the_daily_count_is_per_local_day_and_capped(aws_env):
    store_rosters(roster("g", [1]))
    agents().change(SUB, 1, {"daily_cap": 2, "time_zone": "Asia/Kolkata"}, NOW)
    worker = selector()
    assert names([assign(worker, "g", 1), assign(worker, "g", 2)]) == [1, 1]
    assert assign(worker, "g", 3) == Waiting("daily_cap", NOW + 86400)

    tomorrow = NOW + 86400
    assert assign(worker, "g", 4, tomorrow).agent.id == 1
    stored = agent(1)
    assert (stored.daily_count, stored.daily_date, stored.open_count) == (1, "2026-11-19", 3)


def test_a_retry_reuses_the_counted_agent_while_eligible_and_otherwise_gives_the_count_back(aws_env):
    store_rosters(roster("g", [1, 2]))
    set_policy(aws_env.dynamodb, open_cap=1)
    worker = selector()
    first = claim(1, NOW)
    chosen = worker.select(SUB, "g", 1, first, NOW)
    claims().release(SUB, 1, first, chosen, NOW)  # Zendesk said 429: the claim keeps the chosen agent

    again = claim(1, NOW + 1)

    assert again.choice == chosen and again.counted.agent_id == 1 and again.attempts == 2
    # at the cap, but only because of this very ticket
    assert worker.still_eligible(SUB, again.choice, again.counted, NOW + 1)
    agents().change(SUB, 1, {"status": "away"}, NOW + 1)
    assert not worker.still_eligible(SUB, again.choice, again.counted, NOW + 1)
    worker.give_back(SUB, 1, again, NOW + 1)
    assert (agent(1).open_count, agent(1).daily_count) == (0, 0)
    assert "agent_id" not in claims().get(SUB, 1)
    assert worker.select(SUB, "g", 1, again, NOW + 1).agent.id == 2


def test_a_lost_claim_counts_nothing(aws_env):
    store_rosters(roster("g", [1, 2]))
    worker = selector()
    held = claim(1, NOW)
    claim(1, NOW + CLAIM_LEASE + 1)  # another worker took over after the lease expired

    with pytest.raises(RetryLaterError):
        worker.select(SUB, "g", 1, held, NOW)
    assert agent(1).open_count == 0


def test_a_roster_stored_with_a_counter_continues_where_it_was(aws_env):
    # a roster from before rotation items: members and `position` 5 (1, 2, 3, 1, 2 assigned: 3 is next)
    key = {"pk": {"S": "ACCOUNT#acme"}}
    members = {"L": [{"M": {"id": {"N": str(i)}, "name": {"S": f"A{i}"}}} for i in (1, 2, 3)]}
    aws_env.dynamodb.put_item(TableName=TABLE, Item={**key, "sk": {"S": "ROSTER#g"}, "group_id": {"S": "g"},
                                                    "group_name": {"S": "G"}, "members": members,
                                                    "position": {"N": "5"}})

    chosen = [assign(selector(), "g", t) for t in (1, 2)]

    assert names(chosen) == [3, 1] and [c.position for c in chosen] == [6, 7]


def test_a_sync_that_drops_the_last_agent_keeps_whoever_was_next(aws_env):
    store_rosters(roster("g", [1, 2, 3, 4]))
    worker = selector()
    assert names([assign(worker, "g", t) for t in (1, 2)]) == [1, 2]  # 2 was last, 3 is next

    store_rosters(roster("g", [1, 3, 4, 5]))  # 2 left, 5 joined

    assert names([assign(worker, "g", t) for t in (3, 4, 5, 6)]) == [3, 4, 5, 1]


def test_counting_a_ticket_is_idempotent_and_moves_with_it(aws_env):
    store = agents()
    store.count(SUB, 50, 1, is_open=True, now=NOW)  # a person assigned ticket 50 to agent 1
    store.count(SUB, 50, 1, is_open=True, now=NOW)  # the same event again
    assert (agent(1).open_count, agent(1).daily_count) == (1, 1)

    store.count(SUB, 50, 2, is_open=True, now=NOW)  # reassigned to 2
    assert (agent(1).open_count, agent(1).daily_count, agent(2).open_count, agent(2).daily_count) == (0, 0, 1, 1)

    store.count(SUB, 50, 2, is_open=False, now=NOW)  # solved: no longer open, still assigned today
    store.count(SUB, 50, 2, is_open=False, now=NOW)
    assert (agent(2).open_count, agent(2).daily_count) == (0, 1)

    store.count(SUB, 50, None, is_open=False, now=NOW)  # unassigned
    assert (agent(2).open_count, agent(2).daily_count) == (0, 0)
    assert claims().get(SUB, 50)["ticket_id"] == 50  # a record with no status: a later claim still takes it
    assert claim(50, NOW).attempts == 1


def test_counts_from_an_assignment_are_not_counted_again_by_its_event(aws_env):
    store_rosters(roster("g", [1, 2]))
    chosen = assign(selector(), "g", 1)

    agents().count(SUB, 1, chosen.agent.id, is_open=True, now=NOW)  # Zendesk's event for our own assignment

    assert (agent(1).open_count, agent(1).daily_count) == (1, 1)


def test_agent_changes_move_the_accounts_stamp(aws_env):
    agents().change(SUB, 9, {"status": "away"}, NOW)
    agents().change(SUB, 9, {"status": "available", "ooo_until": None}, NOW)
    stamp = aws_env.dynamodb.get_item(TableName=TABLE, Key={"pk": {"S": "ACCOUNT#acme"},
                                                             "sk": {"S": "AVAILABILITY"}})["Item"]
    assert stamp["version"] == {"N": "2"} and agent(9).version == 2
    with pytest.raises(ValueError, match="open_count"):
        agents().change(SUB, 9, {"open_count": 0}, NOW)


def test_each_assignment_in_a_group_of_three_spreads_evenly(aws_env):
    store_rosters(roster("g", [1, 2, 3]))
    workers = [selector(), selector()]  # two warm workers, alternating
    chosen = [assign(workers[t % 2], "g", t) for t in range(1, 11)]
    assert sorted(Counter(names(chosen)).values()) == [3, 3, 4]


def test_the_eligible_agents_of_a_group_are_listed_in_turn_order_with_their_counts_read_fresh(aws_env):
    store_rosters(roster("g", [1, 2, 3, 4]))
    set_policy(aws_env.dynamodb, open_cap=1)
    agents().change(SUB, 2, {"status": "away"}, NOW)
    worker = selector()
    assert [a.id for a in worker.eligible_agents(SUB, "g", NOW)] == [1, 3, 4]  # cached by this worker now

    assign(selector(), "g", 1)  # another worker gives agent 1 a ticket: 1 is at the cap, the pointer on 1

    assert [a.id for a in worker.eligible_agents(SUB, "g", NOW)] == [3, 4]
    assert worker.eligible_agents(SUB, "no-such-group", NOW) == []


def reassign(worker, group: str, ticket_id: int, now: float = NOW):
    """A reassignment's selection: the ticket's counts as they are move to whoever the rotation picks."""
    return worker.select(SUB, group, ticket_id, claim(ticket_id, now), now, counted=agents().marker(SUB, ticket_id))


def test_a_reassignment_to_the_agent_who_already_holds_the_counts_counts_nothing_again(aws_env):
    # given ticket 70 counted for agent 2 (the event that gave it to the absent agent 1 was lost)
    store_rosters(roster("g", [1, 2]))
    agents().change(SUB, 1, {"status": "ooo"}, NOW)
    agents().count(SUB, 70, 2, is_open=True, now=NOW)

    chosen = reassign(selector(), "g", 70)

    assert chosen.agent.id == 2 and chosen.position == 1  # their turn, taken
    assert (agent(2).open_count, agent(2).daily_count) == (1, 1)
    assert agents().marker(SUB, 70) == Marker(2, True, "2026-11-18")


def test_a_reassignment_to_the_holder_of_a_closed_count_takes_only_the_open_count(aws_env):
    store_rosters(roster("g", [1, 2]))
    agents().change(SUB, 1, {"status": "ooo"}, NOW)
    agents().count(SUB, 70, 2, is_open=False, now=NOW)  # counted for 2 today, not open (its reopening was lost)

    assert reassign(selector(), "g", 70).agent.id == 2
    assert (agent(2).open_count, agent(2).daily_count) == (1, 1)


def test_the_holder_of_a_reassigned_tickets_counts_is_within_their_caps_for_it(aws_env):
    store_rosters(roster("g", [1, 2]))
    set_policy(aws_env.dynamodb, open_cap=1, daily_cap=1)
    agents().change(SUB, 1, {"status": "ooo"}, NOW)
    agents().count(SUB, 70, 2, is_open=True, now=NOW)  # agent 2 is at both caps with this very ticket

    assert reassign(selector(), "g", 70).agent.id == 2
    assert (agent(2).open_count, agent(2).daily_count) == (1, 1)
    assert isinstance(reassign(selector(), "g", 71), Waiting)  # another ticket: agent 2 is at the caps for it
