import inspect

from round_robin.assignment.rosters import build_rosters, is_eligible, iter_rosters
from round_robin.assignment.rotation import (
    ACCOUNT_WIDE,
    Member,
    last_from_position,
    merge_members,
    rebase_last,
    walk,
)


def user(uid, role="agent", active=True, suspended=False, name=None, role_type=None):
    return {"id": uid, "role": role, "role_type": role_type, "active": active, "suspended": suspended,
            "name": name or f"U{uid}"}


def test_only_active_unsuspended_agents_and_admins_are_eligible():
    assert is_eligible(user(1)) and is_eligible(user(2, role="admin"))
    assert not is_eligible(user(3, role="end-user"))
    assert not is_eligible(user(4, active=False))
    assert not is_eligible(user(5, suspended=True))


def test_light_agents_chat_only_agents_and_contributors_are_not_eligible():
    # role_type: 0 custom role, 1 light agent, 2 chat agent, 3 contributor, 4 admin, 5 billing admin, null plain agent
    assert not any(is_eligible(user(1, role_type=t)) for t in (1, 2, 3))
    assert all(is_eligible(user(1, role_type=t)) for t in (None, 0, 4, 5))
    assert is_eligible({"id": 1, "role": "agent", "active": True, "suspended": False})  # role_type not sent at all


def test_the_account_wide_roster_holds_only_agents_with_an_assignable_membership():
    # given a custom-role agent (role_type 0) whose role cannot take tickets: Zendesk lists no assignable
    # membership for them, so they are in no roster, not even the account-wide one
    users = [user(10), user(20, role_type=0), user(30, role_type=0)]
    assignable = [{"user_id": 10, "group_id": 1}, {"user_id": 30, "group_id": 1}]
    rosters = build_rosters(users, [{"id": 1, "name": "Support"}], assignable)
    assert [(r.group_id, [m.id for m in r.members]) for r in rosters] == [("1", [10, 30]), (ACCOUNT_WIDE, [10, 30])]


def test_a_light_agent_listed_in_an_assignable_membership_is_still_left_out():
    users = [user(10), user(20, role_type=1)]
    assignable = [{"user_id": 10, "group_id": 1}, {"user_id": 20, "group_id": 1}]
    rosters = build_rosters(users, [{"id": 1, "name": "Support"}], assignable)
    assert [[m.id for m in r.members] for r in rosters] == [[10], [10]]


def test_rosters_hold_eligible_members_in_id_order_plus_an_account_wide_roster():
    users = [user(30), user(10, role="admin"), user(20), user(40, suspended=True), user(50, role="end-user")]
    groups = [{"id": 2, "name": "Billing"}, {"id": 1, "name": "Support"}, {"id": 3, "name": "Old", "deleted": True}]
    memberships = [{"user_id": u, "group_id": g} for u, g in [(30, 1), (10, 1), (40, 1), (20, 2), (50, 2), (30, 3)]]
    rosters = build_rosters(users, groups, memberships)
    assert [(r.group_id, r.group_name, [m.id for m in r.members]) for r in rosters] == [
        ("1", "Support", [10, 30]),
        ("2", "Billing", [20]),
        (ACCOUNT_WIDE, "All agents", [10, 20, 30]),
    ]


def test_a_group_without_eligible_members_still_has_an_empty_roster():
    rosters = build_rosters([user(1, suspended=True)], [{"id": 7, "name": "Night"}], [{"user_id": 1, "group_id": 7}])
    assert rosters[0].group_id == "7" and rosters[0].members == ()


def test_merge_keeps_order_of_stayers_drops_leavers_and_appends_newcomers():
    previous = [Member(3, "C"), Member(1, "A"), Member(2, "B")]
    current = [Member(1, "A2"), Member(2, "B"), Member(5, "E"), Member(4, "D")]
    assert merge_members(previous, current) == (Member(1, "A2"), Member(2, "B"), Member(5, "E"), Member(4, "D"))


def members(*ids):
    return tuple(Member(i, f"A{i}") for i in ids)


def next_up(roster, last):
    return walk(roster, last)[0].id


def test_rebasing_keeps_the_agent_who_was_next():
    old = members(1, 2, 3)
    # after 4 assignments (1, 2, 3, 1), agent 1 was last and agent 2 is next
    assert next_up(old, 1) == 2
    assert next_up(members(1, 2, 3, 9), rebase_last(old, 1, members(1, 2, 3, 9))) == 2  # newcomer waits
    assert next_up(members(1, 2), rebase_last(old, 1, members(1, 2))) == 2


def test_when_the_next_agent_leaves_the_one_after_them_is_next():
    old = members(1, 2, 3)
    assert next_up(members(1, 3), rebase_last(old, 1, members(1, 3))) == 3
    assert next_up(members(1), rebase_last(old, 2, members(1))) == 1


def test_when_the_last_agent_leaves_the_pointer_moves_to_the_member_before_them():
    old = members(1, 2, 3, 4)
    assert rebase_last(old, 3, members(1, 2, 4)) == 2
    assert next_up(members(1, 2, 4), rebase_last(old, 3, members(1, 2, 4))) == 4  # who came after 3 is next
    assert rebase_last(old, 1, members(2, 3, 4)) == 4  # backwards round the end
    assert next_up(members(2, 3, 4), 4) == 2


def test_rebasing_an_emptied_roster_starts_over():
    assert rebase_last(members(1, 2), 2, ()) is None
    assert rebase_last((), None, members(1)) is None
    assert next_up(members(1, 2), None) == 1


def test_a_counter_position_becomes_the_pointer_to_the_agent_it_last_chose():
    roster = members(5, 6, 7)
    assert last_from_position(roster, 0) is None
    assert last_from_position(roster, 4) == 5 and next_up(roster, 5) == 6  # position 5 would have gone to 6
    assert last_from_position((), 3) is None


def test_fairness_among_those_who_stay_survives_a_leaver():
    # A, B, C rotate; B leaves after 4 assignments; over the next 6, A and C share evenly with what they had.
    roster, last, counts = members(1, 2, 3), None, {1: 0, 2: 0, 3: 0}
    for _ in range(4):
        last = next_up(roster, last)
        counts[last] += 1
    new = members(1, 3)
    last = rebase_last(roster, last, new)
    for _ in range(6):
        last = next_up(new, last)
        counts[last] += 1
    assert abs(counts[1] - counts[3]) <= 1


def test_rosters_come_one_at_a_time_and_read_each_input_once():
    read = []

    def stream(name, records):
        for record in records:
            read.append(name)
            yield record

    rosters = iter_rosters(stream("users", [user(1), user(2)]), stream("groups", [{"id": 7, "name": "G"}]),
                           stream("memberships", [{"user_id": 1, "group_id": 7}, {"user_id": 2, "group_id": 7}]))

    assert inspect.isgenerator(rosters) and read == []  # nothing read before the first roster is asked for
    first = next(rosters)
    assert first.group_id == "7" and [m.id for m in first.members] == [1, 2]
    assert read == ["users", "users", "groups", "memberships", "memberships"]
    assert next(rosters).group_id == ACCOUNT_WIDE and next(rosters, None) is None
