"""The account's availability policy and working-hours schedules, stored on its AVAILABILITY item (table.py).

The selection reads that item in the BatchGet it already makes for the rotation, so the policy costs no call of
its own; `policy_from_item` turns it into what availability.rules.eligibility takes. Every change here bumps the
item's `version`, as agent changes do, so warm workers drop what they cached. Changes are read-modify-write with a
condition on the version read: two operators changing settings at once never lose one another's change.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import fields
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from round_robin.availability.model import AccountPolicy, Schedule
from round_robin.aws.clients import storage_error
from round_robin.aws.dynamo import deserialize, serialize
from round_robin.errors import StorageError
from round_robin.table import AVAILABILITY_SK, account_pk

ATTEMPTS = 5
Settings = tuple[AccountPolicy, tuple[Schedule, ...]]
_POLICY_FIELDS = {f.name for f in fields(AccountPolicy)}


def policy_from_item(item: Mapping[str, Any]) -> Settings:
    """The policy and schedules of an AVAILABILITY item (deserialised); the defaults where it holds none."""
    stored = item.get("policy") or {}
    values = {k: v for k, v in stored.items() if k in _POLICY_FIELDS}
    if "counted_statuses" in values:
        values["counted_statuses"] = tuple(values["counted_statuses"])
    if "status_map" in values:
        values["status_map"] = dict(values["status_map"])
    schedules = tuple(
        Schedule(id=str(s["id"]), name=str(s["name"]), time_zone=str(s["time_zone"]),
                 intervals=tuple((int(a), int(b)) for a, b in s.get("intervals", ())),
                 holidays=tuple((str(a), str(b)) for a, b in s.get("holidays", ())),
                 group_ids=tuple(str(g) for g in s.get("group_ids", ())),
                 agent_ids=tuple(int(i) for i in s.get("agent_ids", ())))
        for s in item.get("schedules") or ())
    return AccountPolicy(**values), schedules


def _policy_attribute(policy: AccountPolicy) -> dict[str, Any]:
    values = {f.name: getattr(policy, f.name) for f in fields(AccountPolicy)}
    values["status_map"] = dict(policy.status_map)
    values["counted_statuses"] = list(policy.counted_statuses)
    return {k: v for k, v in values.items() if v is not None}  # None (no cap) is the default: not stored


def _schedule_attribute(schedule: Schedule) -> dict[str, Any]:
    return {"id": schedule.id, "name": schedule.name, "time_zone": schedule.time_zone,
            "intervals": [list(i) for i in schedule.intervals], "holidays": [list(h) for h in schedule.holidays],
            "group_ids": list(schedule.group_ids), "agent_ids": list(schedule.agent_ids)}


class PolicyStore:
    """Reads and changes an account's policy and schedules (the AVAILABILITY item)."""

    def __init__(self, table_name: str, dynamodb: Any) -> None:
        self._table = table_name
        self._dynamodb = dynamodb

    def get(self, subdomain: str) -> Settings:
        """The account's policy and schedules (the defaults and none before any change)."""
        return policy_from_item(self.item(subdomain))

    def set(self, subdomain: str, change: Callable[[AccountPolicy, tuple[Schedule, ...]], Settings],
            now: float) -> Settings:
        """Apply `change` to what is stored and store its answer, bumping the version; returns what was stored."""
        for _ in range(ATTEMPTS):
            item = self.item(subdomain)
            policy, schedules = change(*policy_from_item(item))
            version = item.get("version")
            condition = "attribute_not_exists(#version)" if version is None else "#version = :read"
            values: dict[str, Any] = {":policy": _policy_attribute(policy), ":one": 1, ":now": now,
                                      ":schedules": [_schedule_attribute(s) for s in schedules]}
            if version is not None:
                values[":read"] = version
            try:
                self._dynamodb.update_item(
                    TableName=self._table, Key=serialize({"pk": account_pk(subdomain), "sk": AVAILABILITY_SK}),
                    UpdateExpression="SET policy = :policy, schedules = :schedules, updated_at = :now "
                                     "ADD #version :one",
                    ConditionExpression=condition, ExpressionAttributeNames={"#version": "version"},
                    ExpressionAttributeValues=serialize(values))
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                    continue  # another change came first: apply ours to it
                raise storage_error(exc, "changing the availability settings") from exc
            except BotoCoreError as exc:
                raise storage_error(exc, "changing the availability settings") from exc
            return policy, schedules
        raise StorageError("changing the availability settings kept conflicting with other changes")

    def item(self, subdomain: str) -> dict[str, Any]:
        """The AVAILABILITY item as stored (consistent read; empty before any change)."""
        try:
            answer = self._dynamodb.get_item(
                TableName=self._table, ConsistentRead=True,
                Key=serialize({"pk": account_pk(subdomain), "sk": AVAILABILITY_SK}))
        except (ClientError, BotoCoreError) as exc:
            raise storage_error(exc, "reading the availability settings") from exc
        return deserialize(answer.get("Item")) or {}
