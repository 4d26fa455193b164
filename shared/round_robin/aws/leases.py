"""Short DynamoDB leases: a conditional write with an expiry, so that one process at a time does a thing."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from round_robin.aws.dynamo import conditional_write, serialize
from round_robin.errors import RoundRobinError
from round_robin.table import lease_sk

POLL_SECONDS = 0.25


class LeaseBusyError(RoundRobinError):
    """Someone else held the lease for longer than we could wait."""


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

    def hold(self, pk: str, name: str, *, seconds: float, wait: float, clock: Callable[[], float] = time.time,
             sleep: Callable[[float], None] = time.sleep) -> Lease:
        """Take the lease, waiting up to `wait` seconds for its holder to give it back (LeaseBusyError if it does
        not); use the answer in a `with` block, which gives the lease back at its end."""
        owner = uuid.uuid4().hex  # this attempt's own: two attempts in one process must not share it
        deadline = clock() + wait
        while not self.acquire(pk, name, owner, clock(), seconds):
            if clock() >= deadline:
                raise LeaseBusyError(f"the lease {name} of {pk} is held by another process")
            sleep(POLL_SECONDS)  # polling, bounded by the deadline
        return Lease(self, pk, name, owner)


@dataclass(frozen=True)
class Lease:
    """A lease taken by `LeaseStore.hold`; leaving its `with` block releases it."""

    store: LeaseStore
    pk: str
    name: str
    owner: str

    def __enter__(self) -> Lease:
        return self

    def __exit__(self, *exc: object) -> None:
        self.store.release(self.pk, self.name, self.owner)
