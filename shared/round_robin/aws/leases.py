"""Short DynamoDB leases: a conditional write with an expiry, so that one process at a time does a thing."""

from __future__ import annotations

from typing import Any

from round_robin.aws.dynamo import conditional_write, serialize
from round_robin.table import lease_sk


class LeaseStore:
    def __init__(self, table_name: str, dynamodb: Any) -> None:
        self._table = table_name
        self._dynamodb = dynamodb

    def acquire(self, pk: str, name: str, owner: str, now: float, seconds: float) -> bool:
        """Take the lease `name` under `pk` if it is free or expired; False if someone else holds it."""
        answer = conditional_write(lambda: self._dynamodb.put_item(
            TableName=self._table,
            Item=serialize({"pk": pk, "sk": lease_sk(name), "owner": owner, "expires_at": now + seconds,
                            "ttl": int(now + seconds + 3600)}),
            ConditionExpression="attribute_not_exists(pk) OR expires_at < :now OR #owner = :owner",
            ExpressionAttributeNames={"#owner": "owner"},
            ExpressionAttributeValues=serialize({":now": now, ":owner": owner}),
        ), "taking a lease")
        return answer is not None

    def release(self, pk: str, name: str, owner: str) -> None:
        """Give the lease back, if still ours (an expired lease may already belong to someone else)."""
        conditional_write(lambda: self._dynamodb.delete_item(
            TableName=self._table, Key=serialize({"pk": pk, "sk": lease_sk(name)}),
            ConditionExpression="#owner = :owner", ExpressionAttributeNames={"#owner": "owner"},
            ExpressionAttributeValues=serialize({":owner": owner}),
        ), "releasing a lease")
