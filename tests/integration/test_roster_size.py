"""Issue 10's roster sizes: 1,000 agents in a group and 5,000 in the account (the account-wide roster) assign in
strict order, and what each assignment writes stays small whatever the roster's size (DynamoDB bills a write by
the size of the item written, so the old counter-on-the-roster cost 34 write units at 1,000 agents)."""

from __future__ import annotations

from typing import Any

from round_robin.assignment.rotation import ACCOUNT_WIDE
from round_robin.aws import clients
from tests.integration.conftest import TABLE
from tests.integration.selection_support import SUB, claim, roster, selector, store_rosters

NOW = 1_795_000_000.0
LIMIT = 2048


def item_size(item: dict[str, Any]) -> int:
    """An item's size as DynamoDB counts it: attribute names plus values (docs: "Item sizes and formats")."""
    return sum(len(name.encode()) + _value_size(value) for name, value in item.items())


def _value_size(value: dict[str, Any]) -> int:
    ((kind, data),) = value.items()
    if kind == "S":
        return len(data.encode())
    if kind == "N":
        return (len(data.strip("-").replace(".", "").lstrip("0")) + 1) // 2 + 1
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "L":
        return 3 + sum(1 + _value_size(v) for v in data)
    if kind == "M":
        return 3 + sum(1 + len(k.encode()) + _value_size(v) for k, v in data.items())
    raise AssertionError(f"unexpected attribute type {kind}")


class Writes:
    """The keys of every item each DynamoDB write request touches."""

    def __init__(self, dynamodb) -> None:
        self.keys: list[dict[str, Any]] = []
        dynamodb.meta.events.register("provide-client-params.dynamodb.*", self._seen)

    def _seen(self, params, model, **_):
        if model.name == "TransactWriteItems":
            for item in params["TransactItems"]:
                ((_, request),) = item.items()
                self.keys.append(request["Key"] if "Key" in request else
                                 {k: request["Item"][k] for k in ("pk", "sk")})
        elif model.name in ("UpdateItem", "PutItem", "DeleteItem"):
            self.keys.append(params.get("Key") or {k: params["Item"][k] for k in ("pk", "sk")})


def test_a_group_of_1000_and_an_account_of_5000_assign_in_order_and_write_under_2_kb(aws_env):
    dynamodb = clients.client("dynamodb")
    store_rosters(roster("big", range(1, 1001)), roster(ACCOUNT_WIDE, range(1, 5001)))
    roster_sizes = {sk: item_size(dynamodb.get_item(TableName=TABLE, Key={"pk": {"S": "ACCOUNT#acme"},
                                                                           "sk": {"S": sk}})["Item"])
                    for sk in ("ROSTER#big", "ROSTER#*")}
    assert roster_sizes["ROSTER#*"] > 100 * 1024  # the members really are that many (~30 bytes each)
    worker = selector(dynamodb)
    writes = Writes(dynamodb)
    chosen, largest = {}, 0
    ticket = 0
    for group in ("big", ACCOUNT_WIDE):
        chosen[group] = []
        for _ in range(10):
            ticket += 1
            held = claim(ticket, NOW)
            writes.keys.clear()
            chosen[group].append(worker.select(SUB, group, ticket, held, NOW).agent.id)
            written = [dynamodb.get_item(TableName=TABLE, Key=key)["Item"] for key in writes.keys]
            assert {w["sk"]["S"].split("#")[0] for w in written} == {"ROTATION", "AGENT", "TICKET"}  # no roster
            largest = max(largest, *(item_size(w) for w in written))
            assert sum(item_size(w) for w in written) < LIMIT

    assert chosen == {"big": list(range(1, 11)), ACCOUNT_WIDE: list(range(1, 11))}
    assert largest < 1024


def test_a_warm_worker_reads_one_batch_and_writes_one_transaction_per_assignment_at_1000_agents(aws_env):
    dynamodb = clients.client("dynamodb")
    store_rosters(roster("big", range(1, 1001)))
    dynamodb.update_item(TableName=TABLE, Key={"pk": {"S": "ACCOUNT#acme"}, "sk": {"S": "ROTATION#big"}},
                         UpdateExpression="SET last_agent_id = :last",
                         ExpressionAttributeValues={":last": {"N": "900"}})
    worker = selector(dynamodb)
    assert worker.select(SUB, "big", 1, claim(1, NOW), NOW).agent.id == 901  # cold: the roster, 100 agents
    calls: list[str] = []
    dynamodb.meta.events.register("before-call.dynamodb", lambda model, **_: calls.append(model.name))

    for ticket in range(2, 22):
        held = claim(ticket, NOW)
        calls.clear()
        assert worker.select(SUB, "big", ticket, held, NOW).agent.id == 900 + ticket
        assert calls == ["BatchGetItem", "TransactWriteItems"]
