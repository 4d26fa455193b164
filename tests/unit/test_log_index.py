"""The log's agent index filled in for records logged before it existed (AssignmentStore.index_agent_log): such a
record has the log's keys (gsi2) and its `agent_id` but no gsi3 keys, so the console's filter by agent missed it.
moto's in-process DynamoDB, the table from template.yaml; records are logged the current way, then their gsi3 keys
are removed, which is exactly what an earlier version left."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from round_robin.assignment.claims import ASSIGNED, SKIPPED, AssignmentStore, Outcome
from round_robin.assignment.rotation import Choice, Member
from round_robin.aws.dynamo import serialize
from round_robin.aws.queue import AssignmentRequest
from round_robin.table import account_pk, log_agent_partition, ticket_sk
from tests.support.table import create_template_table

TABLE = "claims"
T0 = 1_800_000_000.0
ADA = Choice(Member(7, "Ada"), 3, "42")
BEN = Choice(Member(8, "Ben"), 4, "42")


class Tables:
    """The store and the client under it (to write what an earlier version wrote)."""

    def __init__(self, dynamodb: Any) -> None:
        self.dynamodb = dynamodb
        self.store = AssignmentStore(TABLE, dynamodb)

    def log(self, ticket_id: int, choice: Choice | None, at: float, *, old: bool = True) -> None:
        """A finished ticket in the log; `old`: as an earlier version logged it (no gsi3 keys)."""
        claim = self.store.claim(AssignmentRequest("acme", ticket_id, "webhook", at), at)
        assert claim is not None
        self.store.finish("acme", ticket_id, claim, Outcome(ASSIGNED if choice else SKIPPED, "", choice), at)
        if old:
            self.update(ticket_id, "REMOVE gsi3pk, gsi3sk")

    def update(self, ticket_id: int, expression: str, values: dict[str, Any] | None = None,
               names: dict[str, str] | None = None) -> None:
        extra: dict[str, Any] = {"ExpressionAttributeValues": serialize(values)} if values else {}
        if names:
            extra["ExpressionAttributeNames"] = names
        key = serialize({"pk": account_pk("acme"), "sk": ticket_sk(ticket_id)})
        self.dynamodb.update_item(TableName=TABLE, Key=key, UpdateExpression=expression, **extra)

    def agent_log(self, agent_id: int) -> list[int]:
        """The console's read of one agent's log (gsi3), ticket ids newest first."""
        records, _ = self.store.log_page("acme", since=T0 - 86400, until=T0 + 86400, agent_id=agent_id, limit=100)
        return [r["ticket_id"] for r in records]

    def record(self, ticket_id: int) -> dict[str, Any]:
        return self.store.get("acme", ticket_id) or {}

    def fill(self, cursor: dict[str, Any] | None, page_size: int, pages: int) -> tuple[int, int]:
        """The backfill from `cursor` until it says the log is read to its end: (records indexed, calls it took)."""
        total, calls = 0, 0
        while True:
            indexed, cursor = self.store.index_agent_log("acme", cursor, pages, page_size=page_size)
            total, calls = total + indexed, calls + 1
            if cursor is None:
                return total, calls


@pytest.fixture
def tables() -> Iterator[Tables]:
    with mock_aws():
        dynamodb = boto3.client("dynamodb", region_name="us-east-1")
        create_template_table(dynamodb, TABLE)
        yield Tables(dynamodb)


def test_a_record_logged_before_the_agent_index_joins_its_agents_log_with_the_logs_time(tables):
    tables.log(1, ADA, T0)
    tables.log(2, ADA, T0 + 10)
    tables.log(3, BEN, T0 + 20)
    assert tables.agent_log(7) == [] and tables.agent_log(8) == []  # the gap

    indexed, cursor = tables.store.index_agent_log("acme", None, 4)

    assert (indexed, cursor) == (3, None)
    assert tables.agent_log(7) == [2, 1] and tables.agent_log(8) == [3]
    for ticket_id, agent_id in ((1, 7), (2, 7), (3, 8)):
        record = tables.record(ticket_id)
        assert record["gsi3pk"] == log_agent_partition("acme", agent_id) and record["gsi3sk"] == record["gsi2sk"]


def test_a_record_without_an_agent_stays_out_and_one_already_indexed_is_not_written(tables):
    tables.log(1, None, T0)  # skipped: no agent
    tables.log(2, ADA, T0 + 10, old=False)  # logged by this version: indexed already
    tables.update(2, "SET marker = :m", {":m": "untouched"})
    sent: list[Any] = []
    real = tables.dynamodb.transact_write_items
    tables.dynamodb.transact_write_items = lambda **kw: (sent.append(kw), real(**kw))[1]

    assert tables.store.index_agent_log("acme", None, 4) == (0, None)

    assert sent == []  # nothing to write: the read's filter left both out
    assert "gsi3pk" not in tables.record(1) and "gsi3sk" not in tables.record(1)
    assert tables.agent_log(7) == [2] and tables.record(2)["marker"] == "untouched"


def test_pages_a_call_and_the_cursor_resume_where_the_last_call_stopped(tables):
    for ticket_id in range(1, 8):
        tables.log(ticket_id, ADA if ticket_id % 2 else BEN, T0 + ticket_id)
    tables.log(8, None, T0 + 8)  # read, left out

    first, cursor = tables.store.index_agent_log("acme", None, 2, page_size=2)

    assert first == 3 and cursor is not None  # two reads of two entries, newest first: 8 (no agent), 7, 6, 5
    assert tables.agent_log(7) == [7, 5] and tables.agent_log(8) == [6]  # what the console shows first
    rest, calls = tables.fill(cursor, page_size=2, pages=1)  # from where it stopped: 4 and 3, then 2 and 1

    assert rest == 4 and calls in (2, 3)  # DynamoDB may end a full last page with a cursor: one empty read more
    assert tables.agent_log(7) == [7, 5, 3, 1] and tables.agent_log(8) == [6, 4, 2]
    assert tables.store.index_agent_log("acme", None, 4) == (0, None)  # done: a new pass finds nothing to do


def test_a_record_whose_agent_changed_after_the_read_is_left_to_that_write_and_the_rest_are_indexed(tables):
    for ticket_id in (1, 2, 3, 4):
        tables.log(ticket_id, ADA, T0 + ticket_id)
    real = tables.dynamodb.transact_write_items

    def meanwhile(**request: Any) -> Any:  # between the backfill's read and its write
        tables.dynamodb.transact_write_items = real
        tables.update(2, "REMOVE agent_id, agent_name, #p, gsi3pk", names={"#p": "position"})  # given back
        tables.update(3, "SET agent_id = :ben, gsi3pk = :log, gsi3sk = gsi2sk", {  # reassigned to Ben, anew
            ":ben": 8, ":log": log_agent_partition("acme", 8)})
        return real(**request)
    tables.dynamodb.transact_write_items = meanwhile

    indexed, cursor = tables.store.index_agent_log("acme", None, 4)

    assert (indexed, cursor) == (2, None)
    assert tables.agent_log(7) == [4, 1] and tables.agent_log(8) == [3]
    assert "gsi3pk" not in tables.record(2)
    assert tables.record(3)["gsi3pk"] == log_agent_partition("acme", 8)


def test_another_accounts_log_is_not_read(tables):
    tables.log(1, ADA, T0)
    other = AssignmentStore(TABLE, tables.dynamodb)
    assert other.index_agent_log("beta", None, 4) == (0, None)
    assert "gsi3pk" not in tables.record(1)
