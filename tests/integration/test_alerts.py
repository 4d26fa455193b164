"""A broken connection is flagged once, and never over a reconnect that came after the failing work began."""

from __future__ import annotations

from round_robin import wiring


def test_a_failure_from_work_that_began_before_a_reconnect_leaves_the_new_connection_alone(aws_env, account):
    connected_at = wiring.registry().get("acme").connected_at

    # a worker that started before the (re)connect reports the old credentials broken
    flagged = wiring.alerts().broken("acme", "invalid_grant", since=connected_at - 5)

    assert flagged is False
    assert wiring.registry().get("acme").status == "connected"
    assert aws_env.notifications() == []


def test_a_failure_from_work_that_began_after_the_connect_flags_the_account_once(aws_env, account):
    connected_at = wiring.registry().get("acme").connected_at

    first = wiring.alerts().broken("acme", "invalid_grant", since=connected_at + 2)
    again = wiring.alerts().broken("acme", "invalid_grant", since=connected_at + 3)

    assert (first, again) == (True, False)
    assert wiring.registry().get("acme").status == "needs_reconnect"
    assert len(aws_env.notifications()) == 1
