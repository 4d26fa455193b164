"""Rotation rosters: for each Zendesk group, the eligible agents in a stable order, plus the account-wide
roster (key `*`) used for tickets without a group.

Eligible means an active, unsuspended agent or admin who can be assigned tickets and holds an assignable
membership of the group (Zendesk's List Assignable Memberships). The account-wide roster holds the eligible agents
with at least one such membership: Zendesk requires every agent to belong to a group ("All team members must belong
to at least one group", support.zendesk.com/hc/en-us/articles/4408821536794), so an agent with no assignable
membership is one whose role cannot take tickets. Re-importing keeps the rotation position and the order of the
agents who stay; newcomers join at the end.
"""

from __future__ import annotations

import builtins
import functools
from collections.abc import Iterable
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from round_robin.assignment.rotation import (
    ACCOUNT_WIDE,
    Choice,
    Member,
    Roster,
    merge_members,
    pick,
    rebase_position,
)
from round_robin.aws.clients import storage_error
from round_robin.aws.dynamo import conditional_write, deserialize, query_all, serialize
from round_robin.errors import StorageError
from round_robin.table import ROSTER_PREFIX, account_pk, roster_sk

_ROLES = {"agent", "admin"}
# role_type 1 light agent, 2 chat-only agent, 3 contributor: role "agent", yet Zendesk refuses them as assignees
# (developer.zendesk.com/api-reference/ticketing/users/users/#json-format). 0 (custom role) may or may not take
# tickets: the assignable memberships decide. Null is a plain agent; 4 and 5 are admins.
_CANNOT_TAKE_TICKETS = {1, 2, 3}


def is_eligible(user: dict[str, Any]) -> bool:
    """An active, unsuspended agent or admin whose role can take tickets."""
    return (user.get("role") in _ROLES and user.get("role_type") not in _CANNOT_TAKE_TICKETS
            and user.get("active") is True and not user.get("suspended", False))


def build_rosters(
    users: Iterable[dict[str, Any]], groups: Iterable[dict[str, Any]], memberships: Iterable[dict[str, Any]],
    excluded: Iterable[int] = (),
) -> list[Roster]:
    """Rosters from Zendesk users, groups and assignable group memberships (pure; members ordered by user id).

    `memberships` are the assignable ones (`/group_memberships/assignable`): an eligible user without one in a
    live group is in no roster, not even the account-wide one. `excluded` are agents the account's settings keep
    out of every rotation.
    """
    left_out = set(excluded)
    eligible = {u["id"]: Member(u["id"], u.get("name") or str(u["id"]))
                for u in users if is_eligible(u) and u["id"] not in left_out}
    live_groups = {str(g["id"]): g.get("name") or str(g["id"]) for g in groups if not g.get("deleted", False)}
    by_group: dict[str, set[int]] = {gid: set() for gid in live_groups}
    for membership in memberships:
        gid = str(membership["group_id"])
        if gid in by_group and membership["user_id"] in eligible:
            by_group[gid].add(membership["user_id"])
    rosters = [
        Roster(gid, live_groups[gid], tuple(eligible[uid] for uid in sorted(by_group[gid])))
        for gid in sorted(live_groups, key=_group_sort_key)
    ]
    assignable = set().union(*by_group.values())
    rosters.append(Roster(ACCOUNT_WIDE, "All agents", tuple(eligible[uid] for uid in sorted(assignable))))
    return rosters


def _group_sort_key(group_id: str) -> tuple[int, str]:
    return (int(group_id), "") if group_id.isdigit() else (0, group_id)


class RosterStore:
    """Rosters in DynamoDB: pk `ACCOUNT#<sub>`, sk `ROSTER#<group id>`, with the rotation counter `position`."""

    def __init__(self, table_name: str, dynamodb: Any) -> None:
        self._table = table_name
        self._dynamodb = dynamodb

    def list(self, subdomain: str) -> list[Roster]:
        """Every roster of the account, account-wide last."""
        items = query_all(
            self._dynamodb, "reading the rosters", TableName=self._table, ConsistentRead=True,
            KeyConditionExpression="pk = :pk AND begins_with(sk, :prefix)",
            ExpressionAttributeValues=serialize({":pk": account_pk(subdomain), ":prefix": ROSTER_PREFIX}),
        )
        rosters = [_roster(i) for i in items]
        rosters.sort(key=lambda r: (r.group_id == ACCOUNT_WIDE, _group_sort_key(r.group_id)))
        return rosters

    def advance(self, subdomain: str, group_id: str) -> Roster | None:
        """Take the next rotation position atomically (ADD 1) and return the roster as of that write.

        The members come from the same write as the position (ReturnValues ALL_NEW), so the agent chosen from
        them is consistent with the counter. None if the group has no roster.
        """
        answer = conditional_write(lambda: self._dynamodb.update_item(
            TableName=self._table,
            Key=serialize({"pk": account_pk(subdomain), "sk": roster_sk(group_id)}),
            UpdateExpression="ADD #position :one",
            ConditionExpression="attribute_exists(pk)",
            ExpressionAttributeNames={"#position": "position"},
            ExpressionAttributeValues=serialize({":one": 1}),
            ReturnValues="ALL_NEW",
        ), "advancing the rotation")
        if answer is None:
            return None
        return _roster(deserialize(answer["Attributes"]) or {})

    def next_choice(self, subdomain: str, group_id: str) -> Choice | None:
        """Advance the group's rotation by one and return who is next; None if it has no roster or nobody in it."""
        roster = self.advance(subdomain, group_id)
        if roster is None or not roster.members:
            return None
        return Choice(pick(roster.members, roster.position), roster.position, group_id)

    def sync(self, subdomain: str, imported: builtins.list[Roster], now: float, *,
             prune: bool = True) -> builtins.list[Roster]:
        """Store freshly imported rosters, keeping positions and the order of staying members.

        With `prune`, rosters of groups that are not in `imported` are deleted (a full import); without it only
        the given rosters are written (one group refreshed). Returns the rosters as stored.
        """
        previous = {r.group_id: r for r in self.list(subdomain)}
        stored: builtins.list[Roster] = []
        try:
            for roster in imported:
                stored.append(self._store(subdomain, roster, previous.pop(roster.group_id, None), now))
            for gone in previous.values() if prune else ():
                self._dynamodb.delete_item(
                    TableName=self._table,
                    Key=serialize({"pk": account_pk(subdomain), "sk": roster_sk(gone.group_id)}),
                )
        except (ClientError, BotoCoreError) as exc:
            raise storage_error(exc, "saving the rosters") from exc
        return stored

    def _store(self, subdomain: str, roster: Roster, old: Roster | None, now: float, attempts: int = 5) -> Roster:
        """Write one roster; when its members change, re-base the counter in the same conditional write (it must
        not have moved since we read it: a concurrent assignment makes us read again and retry)."""
        key = serialize({"pk": account_pk(subdomain), "sk": roster_sk(roster.group_id)})
        for _ in range(attempts):
            members = merge_members(old.members, roster.members) if old else roster.members
            values: dict[str, Any] = {
                ":gid": roster.group_id, ":name": roster.group_name, ":now": int(now),
                ":members": [{"id": m.id, "name": m.name} for m in members],
            }
            update = "SET group_id = :gid, group_name = :name, members = :members, updated_at = :now"
            if old is None:
                position, condition = 0, "attribute_not_exists(#position)"
                update += ", #position = :position"
                values[":position"] = 0
            elif [m.id for m in members] == [m.id for m in old.members]:
                position, condition = old.position, None  # same people: the counter is left alone
            else:
                position = rebase_position(old.members, old.position, members)
                condition = "#position = :old"
                update += ", #position = :position"
                values.update({":position": position, ":old": old.position})
            arguments: dict[str, Any] = {"TableName": self._table, "Key": key, "UpdateExpression": update,
                                         "ExpressionAttributeValues": serialize(values)}
            if "#position" in update or condition:
                arguments["ExpressionAttributeNames"] = {"#position": "position"}
            if condition:
                arguments["ConditionExpression"] = condition
            update_roster = functools.partial(self._dynamodb.update_item, **arguments)
            if conditional_write(update_roster, "saving the rosters") is not None:
                return Roster(roster.group_id, roster.group_name, members, position)
            old = self._get(subdomain, roster.group_id)  # the counter moved (or the roster appeared): read again
        raise StorageError("the rotation kept moving while the roster was being updated")

    def _get(self, subdomain: str, group_id: str) -> Roster | None:
        try:
            answer = self._dynamodb.get_item(
                TableName=self._table, ConsistentRead=True,
                Key=serialize({"pk": account_pk(subdomain), "sk": roster_sk(group_id)}))
        except (ClientError, BotoCoreError) as exc:
            raise storage_error(exc, "reading the roster") from exc
        item = deserialize(answer.get("Item"))
        return _roster(item) if item else None


def _roster(item: dict[str, Any]) -> Roster:
    return Roster(
        group_id=item["group_id"],
        group_name=item.get("group_name", ""),
        members=tuple(Member(m["id"], m.get("name", "")) for m in item.get("members", [])),
        position=item.get("position", 0),
    )
