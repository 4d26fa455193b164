import math

import pytest

from round_robin.assignment.rotation import ACCOUNT_WIDE, Member, pick, roster_key


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
