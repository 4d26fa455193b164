"""The sandbox's demo data: two groups with a few agents, the people that must be left out of rotation, the Out of
Office app, two business-hours schedules, and every agent Online."""

from __future__ import annotations

from typing import TYPE_CHECKING

from round_robin_local.sandbox.agent_statuses import ONLINE
from round_robin_local.sandbox.model import LIGHT_AGENT
from round_robin_local.sandbox.schedules import DAY, create_holiday, create_schedule
from round_robin_local.sandbox.user_fields import install_out_of_office_app

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
    install_out_of_office_app(sandbox, account)
    seed_schedules(sandbox, account)
    now = sandbox.clock.iso()
    for user in account.users.values():
        if user["role"] in ("agent", "admin"):
            account.availability[user["id"]] = {"status_id": ONLINE, "reason": "UNKNOWN", "updated_at": now,
                                                "version": 1}


def seed_bulk(sandbox: Sandbox, account: Account, agents: int, group_size: int) -> dict[str, int]:
    """`agents` more plain agents, in new groups of `group_size` ("Team 1", "Team 2", ...), each agent in one group:
    a large account in one call (tests and benchmarks of the import at 5,000 agents)."""
    if agents < 1 or group_size < 1:
        raise ValueError("agents and group_size must be at least 1")
    teams = 0
    for start in range(0, agents, group_size):
        teams += 1
        group = sandbox.add_group(account, f"Team {teams}")
        for number in range(start + 1, min(start + group_size, agents) + 1):
            user = sandbox.add_user(account, f"Agent {number:05d}", "agent", email=f"agent{number}.{teams}@bulk.example")
            sandbox.add_membership(account, user["id"], group["id"], first=True)
    return {"agents": agents, "groups": teams}


def seed_schedules(sandbox: Sandbox, account: Account) -> None:
    """New York, weekdays 09:00-17:00 with New Year's Day off; London, weekdays 08:00-16:00 with a two-day holiday."""
    new_york = create_schedule(sandbox, account, {"name": "North America", "time_zone": "Eastern Time (US & Canada)"})
    create_holiday(sandbox, account.schedules[new_york["id"]],
                   {"name": "New Year's Day", "start_date": "2027-01-01", "end_date": "2027-01-01"})
    london = create_schedule(sandbox, account, {"name": "EMEA", "time_zone": "London", "intervals": [
        {"start_time": day * DAY + 8 * 60, "end_time": day * DAY + 16 * 60} for day in range(1, 6)]})
    create_holiday(sandbox, account.schedules[london["id"]],
                   {"name": "Christmas", "start_date": "2026-12-25", "end_date": "2026-12-26"})
