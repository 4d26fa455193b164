"""Availability end to end, through Zendesk's event webhook: the sandbox changes an agent the way Zendesk would
(its status, their group, the Out of Office app's "Agent Out?" field), Zendesk's signed event reaches the local
stack, and within seconds the agent gets no more tickets; the operator sees why in `round-robin agents`."""

import json
from collections import Counter

import requests

from tests.e2e.browser import connect
from tests.e2e.conftest import wait_for

EVENT_DEADLINE = 30  # Zendesk's event delivery (signed, queued, applied): seconds on the local stack
ASSIGN_DEADLINE = 90


def connected(stack, subdomain):
    account = stack.new_account(subdomain)
    assert connect(stack.url, subdomain).page.status_code == 200
    return {u["name"]: u["id"] for u in account["users"]}


def cli_json(stack, *args):
    result = stack.cli(*args, "--json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def agent_row(stack, subdomain, agent_id):
    """The agent as `round-robin agents` lists them; None when they are in no rotation."""
    return next((a for a in cli_json(stack, "agents", subdomain) if a["id"] == agent_id), None)


def groups_of(stack, subdomain, agent_id):
    row = agent_row(stack, subdomain, agent_id)
    return row["groups"] if row else []


def assignees_of_new_tickets(stack, subdomain, count):
    ticket_ids = stack.create_tickets(subdomain, "Support", count)

    def assigned():
        tickets = {t["id"]: t for t in stack.zendesk_account(subdomain)["tickets"]}
        return tickets if all(tickets[i]["assignee_id"] for i in ticket_ids) else None
    tickets = wait_for(assigned, timeout=ASSIGN_DEADLINE, what=f"{count} tickets of {subdomain} to be assigned")
    return Counter(tickets[i]["assignee_id"] for i in ticket_ids)


def test_an_agent_away_in_zendesk_gets_no_tickets_and_is_back_in_turn(stack):
    # given an account that follows Zendesk's agent status
    people = connected(stack, "e2e-status")
    ben = people["Ben Agent"]
    assert stack.cli("settings", "e2e-status", "--zendesk-status", "on").returncode == 0

    # when Ben goes Away in Zendesk
    stack.sandbox_control("e2e-status", f"agents/{ben}/status", {"status": "away"})

    # then the service knows within seconds, and says why
    row = wait_for(lambda: (r := agent_row(stack, "e2e-status", ben)) and not r["eligible"] and r,
                   timeout=EVENT_DEADLINE, what="Ben's Away status to reach the service")
    assert row["availability"] == "away" and row["availability_source"] == "zendesk"
    assert row["why_not"] == "Zendesk status: Away"
    # and his share goes to the others
    counts = assignees_of_new_tickets(stack, "e2e-status", 6)
    assert counts == {people["Ada Admin"]: 3, people["Cleo Agent"]: 3}

    # when he is Online again, he takes his turns, without catching up
    stack.sandbox_control("e2e-status", f"agents/{ben}/status", {"status": "online"})
    wait_for(lambda: agent_row(stack, "e2e-status", ben)["eligible"], timeout=EVENT_DEADLINE,
             what="Ben's Online status to reach the service")
    counts = assignees_of_new_tickets(stack, "e2e-status", 6)
    assert counts == {people["Ada Admin"]: 2, people["Ben Agent"]: 2, people["Cleo Agent"]: 2}


def test_an_agent_removed_from_a_group_in_zendesk_leaves_its_rotation_at_once(stack):
    # given a connected account
    people = connected(stack, "e2e-member")
    cleo = people["Cleo Agent"]
    zendesk = stack.zendesk_account("e2e-member")
    support = next(g["id"] for g in zendesk["groups"] if g["name"] == "Support")
    membership = next(m for m in zendesk["group_memberships"] if m["user_id"] == cleo and m["group_id"] == support)

    # when an admin removes Cleo from Support in Zendesk
    answer = requests.delete(f"{stack.sandbox}/_sandbox/accounts/e2e-member/memberships/{membership['id']}",
                             timeout=10)
    answer.raise_for_status()

    # then she is out of Support's rotation within seconds, without waiting for the re-sync
    wait_for(lambda: "Support" not in groups_of(stack, "e2e-member", cleo), timeout=EVENT_DEADLINE,
             what="Cleo's removal from Support to reach the service")
    counts = assignees_of_new_tickets(stack, "e2e-member", 4)
    assert counts == {people["Ada Admin"]: 2, people["Ben Agent"]: 2}

    # and added back, she joins at the end of the rotation
    stack.sandbox_control("e2e-member", "memberships", {"user_id": cleo, "group_id": support})
    wait_for(lambda: "Support" in groups_of(stack, "e2e-member", cleo), timeout=EVENT_DEADLINE,
             what="Cleo's new membership to reach the service")
    counts = assignees_of_new_tickets(stack, "e2e-member", 3)
    assert counts == {people["Ada Admin"]: 1, people["Ben Agent"]: 1, people["Cleo Agent"]: 1}


def test_the_out_of_office_apps_field_is_respected(stack):
    # given an account that follows Zendesk's Out of Office app
    people = connected(stack, "e2e-ooo")
    ben = people["Ben Agent"]
    assert stack.cli("settings", "e2e-ooo", "--ooo-app", "on").returncode == 0

    # when Ben ticks "Agent Out?"
    stack.sandbox_control("e2e-ooo", f"users/{ben}", {"agent_ooo": True})

    # then he is out of office by the app, within seconds, and gets nothing
    row = wait_for(lambda: (r := agent_row(stack, "e2e-ooo", ben)) and not r["eligible"] and r,
                   timeout=EVENT_DEADLINE, what="Ben's out of office to reach the service")
    assert row["availability"] == "ooo" and row["availability_source"] == "ooo_app"
    counts = assignees_of_new_tickets(stack, "e2e-ooo", 4)
    assert counts == {people["Ada Admin"]: 2, people["Cleo Agent"]: 2}

    # when he unticks it, he is back
    stack.sandbox_control("e2e-ooo", f"users/{ben}", {"agent_ooo": False})
    wait_for(lambda: agent_row(stack, "e2e-ooo", ben)["eligible"], timeout=EVENT_DEADLINE,
             what="Ben's return to reach the service")
    counts = assignees_of_new_tickets(stack, "e2e-ooo", 3)
    assert counts == {people["Ada Admin"]: 1, people["Ben Agent"]: 1, people["Cleo Agent"]: 1}
