"""The selection's property test: seeded random sequences of availability and cap changes (and tickets solved),
each followed by a burst of concurrent assignments from several warm workers (threads, each with its own caches).

After every burst: no ticket went to an agent who was not eligible for that burst; no cap was exceeded; the
stored counts match the tickets each agent holds. Over the whole run: the spread among the agents who stayed
eligible throughout is at most 1.
"""

from __future__ import annotations

import random
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest

from round_robin.assignment.rotation import Choice
from round_robin.aws import clients
from tests.integration.helpers import atomic_dynamodb
from tests.integration.selection_support import SUB, agent, agents, claim, roster, selector, store_rosters

NOW = 1_795_000_000.0
STEADY = (1, 2)  # never changed: eligible throughout
CHANGING = (3, 4, 5, 6, 7)
AGENTS = STEADY + CHANGING


@pytest.mark.parametrize("seed", [7, 11, 2026])
def test_random_availability_and_caps_with_concurrent_assignments(aws_env, monkeypatch, seed):
    rng = random.Random(seed)
    atomic_dynamodb(monkeypatch)
    dynamodb = clients.client("dynamodb")
    store_rosters(roster("g", AGENTS))
    workers = threading.local()

    def assign(ticket_id: int):
        if not hasattr(workers, "selector"):
            workers.selector = selector(dynamodb)
        return workers.selector.select(SUB, "g", ticket_id, claim(ticket_id, NOW), NOW)

    state = {a: {"status": "available", "in_rotation": True, "open_cap": None, "daily_cap": None} for a in AGENTS}
    holding: dict[int, list[int]] = {a: [] for a in AGENTS}  # open tickets per agent
    daily = Counter()  # tickets assigned today per agent
    total = Counter()
    last_ticket = 0
    with ThreadPoolExecutor(max_workers=4) as pool:
        for _ in range(8):
            # given: random changes to some agents, and some tickets solved
            for a in rng.sample(CHANGING, 3):
                change = {"status": rng.choice(["available", "available", "away", "ooo"]),
                          "in_rotation": rng.random() > 0.15, "open_cap": rng.choice([None, 1, 2, 4]),
                          "daily_cap": rng.choice([None, None, 3, 8])}
                state[a] = change
                agents().change(SUB, a, change, NOW)
            for a in AGENTS:
                for ticket in [t for t in holding[a] if rng.random() < 0.3]:
                    agents().count(SUB, ticket, a, is_open=False, now=NOW)
                    holding[a].remove(ticket)
            before = {a: len(holding[a]) for a in AGENTS}
            room = {a: min(_left(state[a]["open_cap"], before[a]), _left(state[a]["daily_cap"], daily[a]))
                    for a in AGENTS}
            eligible = {a for a in AGENTS if state[a]["status"] == "available" and state[a]["in_rotation"]
                        and room[a] > 0}

            # when: a burst of tickets, assigned concurrently
            burst = list(range(last_ticket + 1, last_ticket + 1 + rng.randint(4, 12)))
            last_ticket = burst[-1]
            results = list(pool.map(assign, burst))

            # then
            assert all(isinstance(r, Choice) for r in results)  # the steady agents always have room
            got = Counter(r.agent.id for r in results)
            assert set(got) <= eligible, f"seed {seed}: tickets to ineligible agents {set(got) - eligible}"
            for a, n in got.items():
                assert n <= room[a], f"seed {seed}: agent {a} got {n} with room for {room[a]}"
            for ticket, result in zip(burst, results, strict=True):
                holding[result.agent.id].append(ticket)
            daily.update(got)
            total.update(got)
            for a in AGENTS:
                stored = agent(a)
                assert (stored.open_count, stored.daily_count if daily[a] else 0) == (len(holding[a]), daily[a])

    assert max(total[a] for a in STEADY) - min(total[a] for a in STEADY) <= 1
    assert sum(total.values()) == last_ticket


def _left(cap: int | None, used: int) -> int:
    return 10**9 if cap is None else cap - used
