"""A small stand-in for the availability rules (availability.rules.eligibility has the same signature and
dataclass fields), and helpers to drive the selection against moto without Zendesk."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from round_robin.assignment.agents import AgentRecord, AgentStore, local_day
from round_robin.assignment.claims import AssignmentStore, Claim
from round_robin.assignment.rosters import RosterStore
from round_robin.assignment.rotation import Member, Roster
from round_robin.assignment.selection import Rules, Selector
from round_robin.aws import clients
from round_robin.aws.queue import AssignmentRequest
from tests.integration.conftest import TABLE

SUB = "acme"
BACK_IN = 3600.0  # the fake rule's "out of office" ends this long after now


@dataclass(frozen=True)
class Verdict:
    eligible: bool
    reason: str
    source: str = ""
    detail: str = ""
    until: float | None = None


@dataclass(frozen=True)
class Policy:
    open_cap: int | None = None
    daily_cap: int | None = None
    waiting_alert_minutes: int = 30


def fake_eligibility(agent: AgentRecord, policy: Policy, schedules: Sequence[Any], group_id: str,
                     now: float) -> Verdict:
    """In rotation, available, under both caps (the agent's own, else the account's)."""
    if not agent.in_rotation:
        return Verdict(False, "not_in_rotation", "rotation")
    if agent.status == "away":
        return Verdict(False, "away", "service")
    if agent.status == "ooo":
        return Verdict(False, "out_of_office", "service", until=now + BACK_IN)
    open_cap = agent.open_cap if agent.open_cap is not None else policy.open_cap
    if open_cap is not None and agent.open_count >= open_cap:
        return Verdict(False, "open_cap", "capacity")
    daily_cap = agent.daily_cap if agent.daily_cap is not None else policy.daily_cap
    today = agent.daily_count if agent.daily_date == local_day(agent.time_zone, now) else 0
    if daily_cap is not None and today >= daily_cap:
        return Verdict(False, "daily_cap", "capacity", until=now + 86400)
    return Verdict(True, "eligible")


def fake_policy(item: Mapping[str, Any]) -> tuple[Policy, Sequence[Any]]:
    return Policy(item.get("open_cap"), item.get("daily_cap")), ()


def selector(dynamodb: Any = None) -> Selector:
    """A fresh worker's selector (its own caches)."""
    dynamodb = dynamodb or clients.client("dynamodb")
    return Selector(table_name=TABLE, rosters=RosterStore(TABLE, dynamodb),
                    agents=AgentStore(TABLE, dynamodb), rules=Rules(fake_eligibility, fake_policy))


def agents() -> AgentStore:
    return AgentStore(TABLE, clients.client("dynamodb"))


def claims() -> AssignmentStore:
    return AssignmentStore(TABLE, clients.client("dynamodb"))


def roster(group_id: str, ids: Sequence[int]) -> Roster:
    return Roster(group_id, f"Group {group_id}", tuple(Member(i, f"Agent {i}") for i in ids))


def store_rosters(*rosters: Roster, now: float = 1_000.0) -> None:
    RosterStore(TABLE, clients.client("dynamodb")).sync(SUB, list(rosters), now)


def claim(ticket_id: int, now: float) -> Claim:
    taken = claims().claim(AssignmentRequest(SUB, ticket_id, "webhook", now), now)
    assert taken is not None
    return taken


def set_policy(dynamodb: Any, **caps: int) -> None:
    """The account's default caps, where they belong: on the AVAILABILITY item (its stamp moves with them)."""
    names = {f"#{k}": k for k in caps} | {"#version": "version"}
    values = {f":{k}": {"N": str(v)} for k, v in caps.items()} | {":one": {"N": "1"}}
    dynamodb.update_item(TableName=TABLE, Key={"pk": {"S": f"ACCOUNT#{SUB}"}, "sk": {"S": "AVAILABILITY"}},
                         UpdateExpression="SET " + ", ".join(f"#{k} = :{k}" for k in caps) + " ADD #version :one",
                         ExpressionAttributeNames=names, ExpressionAttributeValues=values)


def agent(agent_id: int) -> AgentRecord:
    return agents().agents(SUB, {agent_id: ""})[agent_id]
