"""Roster-size sweep (issue 10): what one assignment writes to DynamoDB at 10, 1,000 and 5,000 agents.

    .venv/bin/python bench/assign_bench.py --rosters         # or: make bench ARGS="--rosters"

Two sandbox accounts are connected (the connect's own import, timed): one with a group of 10 agents, one with five
groups of 1,000 (5,000 agents, so its account-wide roster holds 5,000). One ticket is assigned in a group of each
size, and one without a group (the account-wide roster). Reported per roster: the size in bytes of each item the
assignment wrote (ROTATION, AGENT, TICKET; shared/round_robin/table.py) and of the ROSTER it read, the write units
they cost, and the time of the import. The issue's target: each assignment's writes under 2 KB at any roster size.

Item sizes follow DynamoDB's rules (docs.aws.amazon.com/amazondynamodb/latest/developerguide/CapacityUnitCalculations
.html): names and string values in UTF-8 bytes, a number about 1 byte per two significant digits plus 1, a list or
map 3 bytes plus 1 a element plus its elements. A write costs 1 unit per started KB of the larger of the item's
size before and after; in a transaction, 2.
"""

from __future__ import annotations

import math
import time
from decimal import Decimal
from typing import Any

import boto3
import requests

from round_robin.table import account_pk, agent_sk, roster_sk, rotation_sk, ticket_sk
from round_robin_local.stack import LocalStack, StackConfig

ADMIN = "Ada Admin"  # the sandbox's demo seed has her as an admin
TARGET_BYTES = 2048
# (account, groups of agents to add); the demo's own people come on top
ACCOUNTS = {"roster10": [10], "roster5000": [1000] * 5}


def _value_size(value: dict[str, Any]) -> int:
    (kind, inner), = value.items()
    if kind == "S":
        return len(inner.encode())
    if kind == "N":
        digits = str(Decimal(inner).normalize()).lstrip("-").replace(".", "").lstrip("0").split("E")[0]
        return math.ceil(len(digits) / 2) + 1
    if kind == "B":
        return len(inner)
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "L":
        return 3 + sum(1 + _value_size(v) for v in inner)
    if kind == "M":
        return 3 + sum(1 + len(k.encode()) + _value_size(v) for k, v in inner.items())
    if kind in ("SS", "NS", "BS"):
        return sum(_value_size({kind[0]: v}) for v in inner)
    raise ValueError(f"unknown DynamoDB type {kind}")


def item_size(item: dict[str, dict[str, Any]]) -> int:
    """An item's size in bytes (low-level attribute values), as DynamoDB counts it for capacity."""
    return sum(len(name.encode()) + _value_size(value) for name, value in item.items())


def write_units(size: int, *, transactional: bool) -> int:
    """Write capacity units of one write of an item of `size` bytes."""
    return max(1, math.ceil(size / 1024)) * (2 if transactional else 1)


def assignment_writes(rotation: int, agent: int, ticket: int) -> dict[str, Any]:
    """What one assignment writes (assignment/claims.py, selection.py): the claim and the record on the TICKET
    (UpdateItem each), and one transaction of the ROTATION, the AGENT and the TICKET."""
    units = (write_units(ticket, transactional=False) * 2
             + sum(write_units(size, transactional=True) for size in (rotation, agent, ticket)))
    return {"bytes": {"rotation": rotation, "agent": agent, "ticket": ticket},
            "largest_write_bytes": max(rotation, agent, ticket), "write_units": units,
            "under_target": max(rotation, agent, ticket) < TARGET_BYTES}


def measure_rosters(timeout: float = 120) -> dict[str, Any]:
    """Connect the sweep's accounts, assign one ticket per roster, and read back the items it wrote."""
    from round_robin import wiring
    from round_robin_local.sandbox.agent_statuses import ONLINE
    from round_robin_local.seeding import connect_granted

    stack = LocalStack(StackConfig.from_env(port=0, zendesk_url_template=None)).start()
    try:
        wiring.reset()  # this process now has the functions' environment: the same table, queues and secrets
        assert stack.sandbox is not None and stack.resolver is not None
        sandbox = stack.sandbox.sandbox
        dynamodb = boto3.client("dynamodb", region_name="us-east-1", endpoint_url=stack.emulator_url)
        table = stack.resolver.refs["Table"]
        rows = []
        for subdomain, sizes in ACCOUNTS.items():
            with sandbox.lock:
                account = sandbox.create_account(subdomain)
                groups = []
                for g, size in enumerate(sizes):
                    group = sandbox.add_group(account, f"Roster {size} #{g}")
                    groups.append((group["id"], size))
                    for n in range(size):
                        user = sandbox.add_user(account, f"Agent {g}-{n}", "agent")
                        sandbox.add_membership(account, user["id"], group["id"])
                        account.availability[user["id"]] = {"status_id": ONLINE, "reason": "UNKNOWN",
                                                            "updated_at": user["created_at"], "version": 1}
                admin = next(u for u in account.users.values() if u["name"] == ADMIN)
                agents = sum(1 for u in account.users.values() if u["role"] in ("agent", "admin"))
            started = time.monotonic()
            connect_granted(sandbox, account, admin["id"], stack.public_base_url)
            imported_in = time.monotonic() - started
            for group_id in (groups[0][0], None):
                ticket = _assign_one(stack.sandbox.url, sandbox, account, group_id, timeout)
                key = "*" if group_id is None else str(group_id)

                def read(sk: str, subdomain: str = subdomain) -> dict[str, Any]:
                    answer = dynamodb.get_item(TableName=table, Key={"pk": {"S": account_pk(subdomain)},
                                                                     "sk": {"S": sk}}, ConsistentRead=True)
                    return answer["Item"]

                record = read(ticket_sk(ticket))
                roster = read(roster_sk(key))
                writes = assignment_writes(item_size(read(rotation_sk(key))),
                                           item_size(read(agent_sk(int(record["agent_id"]["N"])))),
                                           item_size(record))
                rows.append({"roster": "account-wide" if group_id is None else "group", "subdomain": subdomain,
                             "members": len(roster["members"]["L"]), "agents_in_account": agents,
                             "roster_item_bytes": item_size(roster), "import_s": round(imported_in, 1), **writes})
        return {"rosters": rows}
    finally:
        stack.stop()


def _assign_one(sandbox_url: str, sandbox: Any, account: Any, group_id: int | None, timeout: float) -> int:
    answer = requests.post(f"{sandbox_url}/_sandbox/accounts/{account.subdomain}/tickets", timeout=30,
                           json={"count": 1, "group_id": group_id, "subject": "roster sweep"})
    answer.raise_for_status()
    ticket = answer.json()["ticket_ids"][0]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with sandbox.lock:
            if account.tickets[ticket]["assignee_id"]:
                return ticket
        time.sleep(0.1)  # polling, bounded by the deadline
    raise SystemExit(f"ticket {ticket} of {account.subdomain} was not assigned within {timeout:g} s")


def report(figures: dict[str, Any]) -> bool:
    """Print the sweep as the README's table; True if every assignment's writes stay under the target."""
    print("\nWhat one assignment writes, by roster size (bytes per item; write units of the assignment's 2 ticket "
          "updates and 1 transaction)\n")
    print("| roster | members | ROTATION | AGENT | TICKET | write units | ROSTER item (read) | connect with import |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for row in figures["rosters"]:
        b = row["bytes"]
        flag = "" if row["under_target"] else " (over 2 KB)"
        print(f"| {row['roster']} ({row['subdomain']}) | {row['members']:,} | {b['rotation']} | {b['agent']} | "
              f"{b['ticket']}{flag} | {row['write_units']} | {row['roster_item_bytes']:,} | {row['import_s']} s |")
    return all(row["under_target"] for row in figures["rosters"])
