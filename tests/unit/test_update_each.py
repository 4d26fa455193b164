"""Many conditional updates in transactions (aws/dynamo.py `update_each`): what DynamoDB answers when another
transaction writes the same items at the same moment (TransactionConflict), which moto never does, is given by a
client that answers it first."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from round_robin.aws.dynamo import CONFLICT_ROUNDS, update_each
from round_robin.errors import StorageError


class Conflicting:
    """A DynamoDB client whose transactions conflict `times` times, then apply (recording what was sent)."""

    def __init__(self, times: int) -> None:
        self.times = times
        self.sent: list[list[Any]] = []

    def transact_write_items(self, TransactItems: list[Any]) -> dict[str, Any]:  # noqa: N803 - boto3's name
        self.sent.append(TransactItems)
        if len(self.sent) <= self.times:
            reasons = [{"Code": "TransactionConflict"}] + [{"Code": "None"}] * (len(TransactItems) - 1)
            raise ClientError({"Error": {"Code": "TransactionCanceledException", "Message": "conflict"},
                               "CancellationReasons": reasons}, "TransactWriteItems")
        return {}


def updates(n: int) -> list[dict[str, Any]]:
    return [{"TableName": "T", "Key": {"pk": {"S": f"K{i}"}}, "UpdateExpression": "SET a = :a"} for i in range(n)]


def test_a_conflict_is_tried_again_with_every_update():
    client = Conflicting(times=2)
    waits: list[float] = []
    assert update_each(client, updates(3), "writing", sleep=waits.append) == [True, True, True]
    assert [len(sent) for sent in client.sent] == [3, 3, 3]
    assert len(waits) == 2 and waits[0] < waits[1]  # a growing wait lets the other transaction finish first


def test_conflicts_that_go_on_are_a_storage_error():
    client = Conflicting(times=CONFLICT_ROUNDS + 1)
    with pytest.raises(StorageError, match="writing failed: TransactionConflict"):
        update_each(client, updates(2), "writing", sleep=lambda _: None)
