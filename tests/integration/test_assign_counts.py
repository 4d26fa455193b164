"""The worker and the agents' counts: what an assignment counts stays counted once, what does not end in an
assignment is given back (see also test_assign_ticket.py's 409), and a group with nobody eligible waits with its
reason (here from the wiring's rule)."""

from __future__ import annotations

import pytest

from round_robin import wiring
from round_robin.assignment.claims import ASSIGNED, WAITING, RetryLaterError
from tests.integration.helpers import assigned_meanwhile, assignee, counts, new_ticket, record, request_for
from tests.integration.selection_support import agents


def test_an_assignment_counts_one_open_and_one_daily_ticket_for_its_agent(aws_env, account):
    outcome = wiring.assigner().assign(request_for(new_ticket(account)["id"]))
    assert outcome.status == ASSIGNED and counts(account, "Ada Admin") == (1, 1)


def test_a_retry_after_our_put_went_through_is_assigned_and_counted_once(aws_env, account):
    # given an attempt that chose Ada, whose PUT reached Zendesk, but whose worker then stopped (here: a 503
    # answered after the write landed; a 429 would postpone it, test_pacing.py)
    ticket = new_ticket(account)
    ada = account["users"]["Ada Admin"]
    assigned_meanwhile(account, ticket["id"], "Ada Admin", status=503, headers={"Retry-After": "1"})
    assigner = wiring.assigner()
    with pytest.raises(RetryLaterError):
        assigner.assign(request_for(ticket["id"]))

    outcome = assigner.assign(request_for(ticket["id"]))

    assert outcome.status == ASSIGNED and outcome.choice.agent.id == ada and assignee(account, ticket["id"]) == ada
    assert counts(account, "Ada Admin") == (1, 1)


def test_a_retry_whose_agent_left_the_rotation_gives_the_count_back_and_picks_the_next(aws_env, account):
    ticket = new_ticket(account)
    account["zendesk"].override("PUT", rf"/tickets/{ticket['id']}\.json$", status=503, times=3)
    assigner = wiring.assigner()
    with pytest.raises(RetryLaterError):
        assigner.assign(request_for(ticket["id"]))
    assert counts(account, "Ada Admin") == (1, 1)
    agents().change("acme", account["users"]["Ada Admin"], {"in_rotation": False}, 0.0)

    outcome = assigner.assign(request_for(ticket["id"]))

    assert outcome.status == ASSIGNED and outcome.choice.agent.name == "Ben Agent"
    assert counts(account, "Ada Admin") == (0, 0) and counts(account, "Ben Agent") == (1, 1)


def test_a_group_whose_agents_are_all_out_of_rotation_waits_with_that_reason(aws_env, account):
    for name in ("Dev Agent", "Eve Agent", "Ivy Agent"):
        agents().change("acme", account["users"][name], {"in_rotation": False}, 0.0)
    ticket = new_ticket(account, "Billing")

    outcome = wiring.assigner().assign(request_for(ticket["id"]))

    assert (outcome.status, outcome.reason) == (WAITING, "not_in_rotation")
    saved = record(ticket["id"])
    assert (saved["status"], saved["reason"]) == ("waiting", "not_in_rotation") and "wake_at" not in saved
