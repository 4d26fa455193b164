"""Selector.select_many under moto (batch mode's rotation step): many tickets' agents taken in one read and as few
transactions as DynamoDB's 100-item limit allows, with the same guarantees as one at a time: strict turns, caps,
claims, and two workers at once."""

from __future__ import annotations

import threading
from collections import Counter

from round_robin.assignment.claims import CLAIM_LEASE
from round_robin.assignment.selection import Waiting
from round_robin.aws import clients
from tests.integration.helpers import AtomicRequests
from tests.integration.selection_support import (
    SUB,
    agent,
    claim,
    claims,
    roster,
    selector,
    set_policy,
    store_rosters,
)
from tests.integration.test_selection import NOW


def claimed(ticket_ids, now: float = NOW):
    return [(t, claim(t, now)) for t in ticket_ids]


def transactions() -> Counter:
    calls: Counter = Counter()
    clients.client("dynamodb").meta.events.register("before-call.dynamodb.TransactWriteItems",
                                                    lambda model, **_: calls.update([model.name]))
    return calls


def test_many_tickets_take_their_turns_in_order_in_as_few_transactions_as_the_item_limit_allows(aws_env):
    store_rosters(roster("g", [1, 2, 3]))
    worker = selector()
    assert worker.select(SUB, "g", 1000, claim(1000, NOW), NOW).agent.id == 1  # the pointer stands on agent 1
    calls = transactions()

    chosen = worker.select_many(SUB, "g", claimed(range(1, 121)), NOW)

    assert [chosen[t].agent.id for t in range(1, 8)] == [2, 3, 1, 2, 3, 1, 2]
    assert [chosen[t].position for t in range(1, 121)] == list(range(2, 122))
    assert calls["TransactWriteItems"] == 2  # 96 tickets + 3 agents + the rotation, then the other 24
    assert [agent(i).open_count for i in (1, 2, 3)] == [41, 40, 40]
    stored = claims().get(SUB, 120)  # the record holds the choice (a retry reuses it) and the counts' marker
    assert stored["agent_id"] == stored["counted_agent_id"] == chosen[120].agent.id
    assert stored["position"] == 121


def test_caps_hold_across_the_batch_and_the_rest_wait(aws_env):
    store_rosters(roster("g", [1, 2, 3]))
    set_policy(aws_env.dynamodb, open_cap=2)

    chosen = selector().select_many(SUB, "g", claimed(range(1, 9)), NOW)

    assert [chosen[t].agent.id for t in range(1, 7)] == [1, 2, 3, 1, 2, 3]
    assert chosen[7] == chosen[8] == Waiting("open_cap", None)
    assert [agent(i).open_count for i in (1, 2, 3)] == [2, 2, 2]


def test_a_ticket_whose_claim_was_taken_over_is_left_out_and_counts_nothing(aws_env):
    store_rosters(roster("g", [1, 2]))
    tickets = claimed([1, 2, 3])
    claim(2, NOW + CLAIM_LEASE + 1)  # its lease expired and another attempt took it

    chosen = selector().select_many(SUB, "g", tickets, NOW)

    assert sorted(chosen) == [1, 3]
    assert [chosen[1].agent.id, chosen[3].agent.id] == [1, 2] and chosen[3].position == 2
    assert agent(1).open_count + agent(2).open_count == 2


def test_two_workers_at_once_never_give_a_turn_twice(aws_env, monkeypatch):
    store_rosters(roster("g", [1, 2, 3, 4, 5]))
    dynamodb = AtomicRequests(clients.client("dynamodb"))
    batches = [claimed(range(1, 41)), claimed(range(41, 81))]
    results: list[dict] = []

    def work(batch):
        results.append(selector(dynamodb).select_many(SUB, "g", batch, NOW))

    threads = [threading.Thread(target=work, args=(b,)) for b in batches]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    chosen = {**results[0], **results[1]}
    assert len(chosen) == 80
    assert sorted(c.position for c in chosen.values()) == list(range(1, 81))  # every turn taken exactly once
    per_agent = Counter(c.agent.id for c in chosen.values())
    assert set(per_agent.values()) == {16}
    assert [agent(i).open_count for i in range(1, 6)] == [16] * 5


def test_an_agent_filled_behind_the_workers_cache_fails_the_cap_condition_and_is_passed_over(aws_env):
    store_rosters(roster("g", [1, 2]))
    set_policy(aws_env.dynamodb, open_cap=3)
    worker, other = selector(), selector()
    assert worker.select(SUB, "g", 100, claim(100, NOW), NOW).agent.id == 1  # worker caches 1 at one ticket
    for ticket_id in (101, 102, 103):  # the other worker gives 2, 1, 2: agent 1 is full now
        other.select(SUB, "g", ticket_id, claim(ticket_id, NOW), NOW)
    assert (agent(1).open_count, agent(2).open_count) == (2, 2)

    tickets = claimed([1, 2, 3])
    calls = transactions()

    chosen = worker.select_many(SUB, "g", tickets, NOW)

    # the cache has agent 1 at one ticket, so the walk gives them the 1st and 3rd: two more than the table's two
    # is over the cap, the transaction is cancelled, agent 1 read again, and the turns go 1, 2, then nobody
    assert calls["TransactWriteItems"] == 2
    assert [chosen[1].agent.id, chosen[2].agent.id] == [1, 2] and chosen[3] == Waiting("open_cap", None)
    assert (agent(1).open_count, agent(2).open_count) == (3, 3)
