"""Importing rosters from the sandbox: only agents who can take tickets (Zendesk's assignable memberships)."""

from __future__ import annotations

from round_robin import wiring
from round_robin.assignment.claims import ASSIGNED
from round_robin.assignment.roster_import import import_group_roster, import_rosters
from round_robin.assignment.rotation import ACCOUNT_WIDE
from round_robin.zendesk.client import ZendeskClient, new_session
from round_robin_local.sandbox.model import DEFAULT_CLIENT_ID, LIGHT_AGENT
from tests.integration.helpers import new_ticket, request_for
from tests.support.zendesk import BASE

CAN_TAKE_TICKETS = ["Ada Admin", "Ben Agent", "Cleo Agent", "Dev Agent", "Eve Agent", "Ivy Agent"]


def client_for(zendesk) -> ZendeskClient:
    account = zendesk.account()
    ada = zendesk.user("Ada Admin")
    token = zendesk.sandbox.issue_token(account, DEFAULT_CLIENT_ID, ada["id"], ["read", "tickets:write"])
    return ZendeskClient(f"{BASE}/acme", lambda: f"Bearer {token.access_token}", session=new_session())


def names(roster) -> list[str]:
    return [m.name for m in roster.members]


def test_the_import_leaves_a_light_agent_out_of_their_group_and_of_the_account_wide_roster(zendesk):
    rosters = {r.group_name: r for r in import_rosters(client_for(zendesk))}

    assert names(rosters["Support"]) == ["Ada Admin", "Ben Agent", "Cleo Agent"]
    assert names(rosters["All agents"]) == CAN_TAKE_TICKETS
    assert zendesk.calls("GET", "/api/v2/group_memberships/assignable")


def test_one_group_is_imported_from_its_assignable_memberships(zendesk):
    support = zendesk.account().groups
    support_id = next(g["id"] for g in support.values() if g["name"] == "Support")

    roster = import_group_roster(client_for(zendesk), str(support_id))

    assert roster is not None and names(roster) == ["Ada Admin", "Ben Agent", "Cleo Agent"]
    assert zendesk.calls("GET", f"/api/v2/groups/{support_id}/memberships/assignable")


def test_the_account_wide_roster_on_its_own_holds_only_agents_who_can_take_tickets(zendesk):
    roster = import_group_roster(client_for(zendesk), ACCOUNT_WIDE)
    assert roster is not None and names(roster) == CAN_TAKE_TICKETS


def test_an_agent_made_a_light_agent_after_the_import_is_dropped_on_zendesks_422(aws_env, account):
    # given Ben became a light agent in Zendesk after the import: our Support roster still has him
    account["model"].users[account["users"]["Ben Agent"]]["role_type"] = LIGHT_AGENT
    assigner = wiring.assigner()
    first = assigner.assign(request_for(new_ticket(account)["id"]))
    assert first.status == ASSIGNED and first.choice.agent.name == "Ada Admin"

    # when Ben's turn comes, Zendesk refuses him (422)
    second = assigner.assign(request_for(new_ticket(account)["id"]))

    # then the roster is refreshed from Zendesk without him and the next agent takes the ticket
    assert second.status == ASSIGNED and second.choice.agent.name == "Cleo Agent"
    support = next(r for r in wiring.rosters().list("acme") if r.group_name == "Support")
    assert names(support) == ["Ada Admin", "Cleo Agent"]
