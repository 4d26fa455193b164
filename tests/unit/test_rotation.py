import math
from dataclasses import dataclass, replace

import pytest

from round_robin.assignment.agents import AgentRecord, Marker, effective_caps, local_day, uncounted
from round_robin.assignment.rotation import ACCOUNT_WIDE, Member, pick, roster_key, walk
from round_robin.assignment.selection import earliest, waiting_reason


@pytest.mark.parametrize("k", [1, 2, 3, 5, 7])
@pytest.mark.parametrize("n", [0, 1, 6, 20, 101])
def test_consecutive_positions_give_every_agent_floor_or_ceil(n, k):
    members = tuple(Member(i, f"A{i}") for i in range(k))
    counts = {m.id: 0 for m in members}
    for position in range(1, n + 1):
        counts[pick(members, position).id] += 1
    assert set(counts.values()) <= {math.floor(n / k), math.ceil(n / k)}


def test_strict_rotation_follows_the_roster_order():
    members = (Member(3, "C"), Member(1, "A"), Member(2, "B"))
    assert [pick(members, p).id for p in range(1, 7)] == [3, 1, 2, 3, 1, 2]


def test_tickets_without_a_group_use_the_account_wide_roster():
    assert roster_key(None) == ACCOUNT_WIDE and roster_key("") == ACCOUNT_WIDE and roster_key(77) == "77"


def ids(members):
    return [m.id for m in members]


def test_the_walk_starts_after_the_last_agent_and_wraps_around():
    members = tuple(Member(i, f"A{i}") for i in (5, 6, 7, 8))
    assert ids(walk(members, 6)) == [7, 8, 5, 6]
    assert ids(walk(members, 8)) == [5, 6, 7, 8]


def test_the_walk_starts_from_the_first_member_without_a_pointer_or_with_a_stale_one():
    members = (Member(1, "A"), Member(2, "B"))
    assert ids(walk(members, None)) == [1, 2] and ids(walk(members, 99)) == [1, 2] and walk((), 1) == []


def test_next_eligible_after_the_pointer_spreads_at_most_one_among_agents_eligible_throughout():
    # A rule that flips agents 2 and 4 in and out; 1, 3 and 5 stay eligible. The pointer moves to whoever got it.
    members = tuple(Member(i, f"A{i}") for i in range(1, 6))
    last, counts = None, dict.fromkeys(range(1, 6), 0)
    for turn in range(200):
        eligible = {1, 3, 5} | ({2} if turn % 3 == 0 else set()) | ({4} if turn % 7 < 2 else set())
        last = next(m.id for m in walk(members, last) if m.id in eligible)
        counts[last] += 1
    steady = [counts[i] for i in (1, 3, 5)]
    assert max(steady) - min(steady) <= 1


@dataclass(frozen=True)
class Verdict:
    eligible: bool
    reason: str
    source: str = ""
    until: float | None = None


@pytest.mark.parametrize("reasons, expected", [
    (["away"], "away"),
    (["out_of_office", "out_of_office"], "out_of_office"),
    (["away", "out_of_office", "zendesk_status", "ooo_app"], "all_away"),
    (["open_cap", "daily_cap"], "all_at_capacity"),
    (["off_hours", "holiday"], "off_hours"),
    (["away", "open_cap"], "no_eligible_agent"),
])
def test_a_waiting_ticket_gets_the_common_reason_or_its_family(reasons, expected):
    assert waiting_reason([Verdict(False, r) for r in reasons]) == expected


def test_a_waiting_ticket_wakes_at_the_earliest_time_a_verdict_may_change():
    assert earliest([Verdict(False, "away"), Verdict(False, "off_hours", until=50.0),
                     Verdict(False, "out_of_office", until=20.0)]) == 20.0
    assert earliest([Verdict(False, "away")]) is None


def test_an_agent_asked_about_a_ticket_it_already_holds_is_seen_without_it():
    agent = AgentRecord(7, "G", open_count=3, daily_count=2, daily_date="2026-11-18")
    assert uncounted(agent, Marker(7, True, "2026-11-18")) == replace(agent, open_count=2, daily_count=1)
    assert uncounted(agent, Marker(7, False, "2026-11-17")) == agent  # solved, and counted another day
    assert uncounted(agent, Marker(8, True, "2026-11-18")) == agent  # someone else's


def test_the_daily_count_counts_the_agents_own_local_day():
    evening_utc = 1_795_030_000.0  # 2026-11-18 14:46 UTC
    assert local_day("UTC", evening_utc) == "2026-11-18"
    assert local_day("Pacific/Kiritimati", evening_utc) == "2026-11-19"  # UTC+14
    assert local_day("Not/AZone", evening_utc) == "2026-11-18"  # unknown: UTC (the rules refuse such input)


def test_the_caps_are_the_agents_own_else_the_accounts():
    @dataclass(frozen=True)
    class Policy:
        open_cap: int | None = 5
        daily_cap: int | None = 9

    assert effective_caps(AgentRecord(1, "A", open_cap=2), Policy()) == (2, 9)
    assert effective_caps(AgentRecord(1, "A", open_cap=0, daily_cap=0), Policy()) == (0, 0)
    assert effective_caps(AgentRecord(1, "A"), None) == (None, None)
