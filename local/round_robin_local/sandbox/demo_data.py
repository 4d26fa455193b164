"""The sandbox's demo data: two groups with a few agents, and the people that must be left out of rotation."""

from __future__ import annotations

from typing import TYPE_CHECKING

from round_robin_local.sandbox.model import LIGHT_AGENT

if TYPE_CHECKING:
    from round_robin_local.sandbox.model import Account, Sandbox

DEMO_SUBDOMAIN = "acme"


def seed_account(sandbox: Sandbox, account: Account) -> None:
    """Support: Ada (admin), Ben, Cleo, Finn (suspended) and Lena (a light agent: role agent, role_type 1, cannot
    take tickets). Billing: Dev, Eve, Ivy. Plus Gus (inactive agent) and Hana (end user). Ada is the admin signed in
    to the sandbox; Ivy is an agent, not an admin."""
    support = sandbox.add_group(account, "Support")
    billing = sandbox.add_group(account, "Billing")
    ada = sandbox.add_user(account, "Ada Admin", "admin")
    members = {
        support["id"]: [ada, sandbox.add_user(account, "Ben Agent", "agent"),
                        sandbox.add_user(account, "Cleo Agent", "agent"),
                        sandbox.add_user(account, "Finn Suspended", "agent", suspended=True)],
        billing["id"]: [sandbox.add_user(account, "Dev Agent", "agent"),
                        sandbox.add_user(account, "Eve Agent", "agent"),
                        sandbox.add_user(account, "Ivy Agent", "agent")],
    }
    gus = sandbox.add_user(account, "Gus Inactive", "agent", active=False)
    sandbox.add_user(account, "Hana Customer", "end-user")
    for group_id, users in members.items():
        for user in users:
            sandbox.add_membership(account, user["id"], group_id)
    sandbox.add_membership(account, gus["id"], support["id"])
    lena = sandbox.add_user(account, "Lena Light", "agent", role_type=LIGHT_AGENT)
    sandbox.add_membership(account, lena["id"], support["id"])
    account.signed_in_user_id = ada["id"]
